"""Sources declared in one TOML file (config/sources.toml): kind, interval, options; secrets only from the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Connector, RetryPolicy
from ioc.config import PROJECT_ROOT, default_of

if TYPE_CHECKING:
    from ioc.db import Database

DEFAULT_SOURCES_FILE = Path(default_of("sources_file"))
DEFAULT_INTERVAL_SECONDS = 300
# An option whose name ends in this holds the NAME of an environment variable, never the secret itself.
SECRET_SUFFIX = "_env"
# Option names that must never carry a literal secret in the file.
SECRET_NAMES = frozenset({"password", "api_key", "token", "secret"})


class SourceConfigError(ValueError):
    """A sources file that cannot be used, with what to fix."""


@dataclass(frozen=True)
class SourceConfig:
    """One ``[sources.NAME]`` table: its kind, interval, retry policy and kind-specific options (secrets resolved)."""

    name: str
    kind: str
    interval_seconds: int
    retry: RetryPolicy
    options: Mapping[str, Any] = field(default_factory=dict)

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def require(self, key: str) -> Any:
        value = self.options.get(key)
        if value is None or value == "":
            raise SourceConfigError(f"source '{self.name}' (kind {self.kind}): option '{key}' is required")
        return value


def load_sources(path: str | Path = DEFAULT_SOURCES_FILE, environ: Mapping[str, str] | None = None) -> dict[str, SourceConfig]:
    """Every source of the file, with ``*_env`` options replaced by their environment values."""
    return parse_sources(_read_toml(Path(path)), os.environ if environ is None else environ)


@dataclass(frozen=True)
class SourcesFile:
    """A sources file read source by source: the usable sources, and what to fix in each table that is not."""

    path: Path
    sources: dict[str, SourceConfig]
    problems: dict[str, str]
    # Every table's interval as declared (the default where it is missing or invalid), so a source set
    # apart still has an expected interval and shows as stale rather than fine.
    intervals: dict[str, int]


def read_sources_file(path: str | Path, environ: Mapping[str, str] | None = None) -> SourcesFile:
    """Like ``load_sources``, but a bad table (or a missing secret) sets that source apart instead of failing the file.

    Raises SourceConfigError only when the file itself is unusable: missing, unreadable, not TOML, no sources.
    """
    path = Path(path)
    tables = _tables(_read_toml(path))
    environ = os.environ if environ is None else environ
    sources: dict[str, SourceConfig] = {}
    problems: dict[str, str] = {}
    intervals: dict[str, int] = {}
    for name, spec in tables.items():
        declared = spec.get("interval_seconds") if isinstance(spec, Mapping) else None
        if isinstance(declared, int) and not isinstance(declared, bool) and declared >= 1:
            intervals[name] = declared
        else:
            intervals[name] = DEFAULT_INTERVAL_SECONDS
        try:
            sources[name] = _source(name, spec, environ)
        except SourceConfigError as error:
            problems[name] = str(error)
    return SourcesFile(path, sources, problems, intervals)


def parse_sources(data: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, SourceConfig]:
    return {name: _source(name, spec, environ) for name, spec in _tables(data).items()}


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SourceConfigError(f"sources file {path} not found (copy config/sources.example.toml to start one)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SourceConfigError(f"sources file {path}: {error}") from error
    except UnicodeDecodeError as error:
        raise SourceConfigError(f"sources file {path} is not UTF-8 text ({error.reason} at byte {error.start})") from error
    except OSError as error:
        raise SourceConfigError(f"sources file {path} cannot be read: {error.strerror or error}") from error


def _tables(data: Mapping[str, Any]) -> Mapping[str, Any]:
    tables = data.get("sources")
    if not isinstance(tables, Mapping) or not tables:
        raise SourceConfigError("the sources file has no [sources.NAME] table")
    return tables


def _source(name: str, spec: Any, environ: Mapping[str, str]) -> SourceConfig:
    if not isinstance(spec, Mapping):
        raise SourceConfigError(f"[sources.{name}] must be a table")
    options = dict(spec)
    kind = options.pop("kind", None)
    if kind not in CONNECTOR_KINDS:
        raise SourceConfigError(f"source '{name}': kind must be one of {', '.join(sorted(CONNECTOR_KINDS))} (got {kind!r})")
    interval = options.pop("interval_seconds", DEFAULT_INTERVAL_SECONDS)
    if not isinstance(interval, int) or interval < 1:
        raise SourceConfigError(f"source '{name}': interval_seconds must be a whole number of seconds ≥ 1")
    retry = _retry(name, options.pop("retry", {}))
    return SourceConfig(name, kind, interval, retry, resolve_secrets(name, options, environ))


def _retry(name: str, spec: Any) -> RetryPolicy:
    if not isinstance(spec, Mapping):
        raise SourceConfigError(f"source '{name}': [retry] must be a table")
    unknown = set(spec) - {"attempts", "base_delay_seconds", "max_delay_seconds", "factor"}
    if unknown:
        raise SourceConfigError(f"source '{name}': unknown retry option(s) {', '.join(sorted(unknown))}")
    try:
        return RetryPolicy(
            attempts=int(spec.get("attempts", 4)),
            base_delay=float(spec.get("base_delay_seconds", 1.0)),
            factor=float(spec.get("factor", 2.0)),
            max_delay=float(spec.get("max_delay_seconds", 60.0)),
        )
    except ValueError as error:
        raise SourceConfigError(f"source '{name}': retry: {error}") from error


def resolve_secrets(name: str, options: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``password_env = "VAR"`` becomes ``password = <value of VAR>``; a missing variable is an error naming it."""
    resolved: dict[str, Any] = {}
    for key, value in options.items():
        if key in SECRET_NAMES:
            raise SourceConfigError(
                f"source '{name}': '{key}' may not be written in the sources file; "
                f'set {key}{SECRET_SUFFIX} = "IOC_SRC_{name.upper()}_{key.upper()}" and export that variable'
            )
        if key.endswith(SECRET_SUFFIX):
            variable = str(value)
            secret = environ.get(variable)
            if secret is None or secret == "":
                raise SourceConfigError(
                    f"source '{name}': environment variable {variable} is not set (named by {key} in the sources file)"
                )
            resolved[key.removesuffix(SECRET_SUFFIX)] = secret
        else:
            resolved[key] = value
    return resolved


def _simulator(db: Database, config: SourceConfig) -> Connector:
    from connectors.simulator import Simulator

    unknown = set(config.options) - {"seed", "backfill_days"}
    if unknown:
        raise SourceConfigError(f"source '{config.name}' (kind simulator): unknown option(s) {', '.join(sorted(unknown))}")
    return Simulator.from_store(
        db,
        seed=int(config.option("seed", 42)),
        backfill_days=int(config.option("backfill_days", 120)),
        interval_seconds=config.interval_seconds,
    )


def _sql(db: Database, config: SourceConfig) -> Connector:
    from connectors.sql import SqlConnector

    return SqlConnector.from_config(config)


def _open311(db: Database, config: SourceConfig) -> Connector:
    from connectors.open311 import Open311Connector

    return Open311Connector.from_config(config)


def _json_http(db: Database, config: SourceConfig) -> Connector:
    from connectors.json_http import JsonHttpConnector

    return JsonHttpConnector.from_config(db, config)


def _file_drop(db: Database, config: SourceConfig) -> Connector:
    from connectors.files import FileDropConnector
    from connectors.mapping import load_mapping

    unknown = set(config.options) - {"folder", "mapping", "target", "settle_seconds"}
    if unknown:
        raise SourceConfigError(f"source '{config.name}' (kind file_drop): unknown option(s) {', '.join(sorted(unknown))}")
    mapping, target = config.option("mapping"), config.option("target")
    if (mapping is None) == (target is None):
        raise SourceConfigError(
            f"source '{config.name}' (kind file_drop): give either 'mapping' (a mapping file) or 'target' "
            "(dossiers or hotline, for files whose header uses the canonical column names)"
        )
    loaded = load_mapping(project_path(mapping)) if mapping is not None else None
    try:
        return FileDropConnector(
            project_path(config.require("folder")),
            loaded,
            target=target,
            db=db,
            name=config.name,
            interval_seconds=config.interval_seconds,
            settle_seconds=float(config.option("settle_seconds", 5.0)),
        )
    except ValueError as error:
        raise SourceConfigError(f"source '{config.name}' (kind file_drop): {error}") from error


def project_path(value: Any) -> Path:
    """A path from the sources file: relative paths are relative to the project root."""
    path = Path(str(value))
    return path if path.is_absolute() else PROJECT_ROOT / path


# Each kind builds its connector from a SourceConfig.
CONNECTOR_KINDS: dict[str, Callable[[Database, SourceConfig], Connector]] = {
    "simulator": _simulator,
    "sql": _sql,
    "open311": _open311,
    "json_http": _json_http,
    "file_drop": _file_drop,
}


def build_connector(db: Database, config: SourceConfig) -> Connector:
    """The connector a source declares; every kind but the simulator is named after the source (cursor and health per source).

    The simulator keeps its fixed name, under which its cursor and sample history are stored.
    """
    return CONNECTOR_KINDS[config.kind](db, config)
