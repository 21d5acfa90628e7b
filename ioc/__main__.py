"""Entry point for ``python -m ioc``."""

from ioc.cli import main

raise SystemExit(main())
