"""Start the IOC on embedded defaults: the store, the connector scheduler and the web server on :8050."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from ioc.config import Config
from ioc.db import StoreLockedError
from ioc.scheduler import plan_connectors, start_scheduler, stop_scheduler
from ioc.store import open_store
from ioc.web import create_app


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    # systemd and docker stop with SIGTERM: leave the same clean way as Ctrl-C.
    raise KeyboardInterrupt


def main() -> int:
    """Run until Ctrl-C (or SIGTERM); then stop the scheduler, close the store and exit 0."""
    # Warnings and errors (a source failing, retrying) with the moment they happened: the console is the log.
    # The handler's own level too: Dash's logger passes its INFO lines on, which it already prints itself.
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[console])
    config = Config.load()
    try:
        db = open_store(config.db_path)
    except StoreLockedError as error:
        print(error, file=sys.stderr)
        return 1
    scheduler = None
    try:
        # The sources file (IOC_SOURCES_FILE), or the simulator when there is none; what cannot run is printed.
        plan = plan_connectors(db, config)
        plan.announce()
        scheduler = start_scheduler(db, plan.connectors)
        app = create_app(db, config, connector_intervals=plan.intervals, source_problems=plan.unstored_problems)
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        # Every browser polls every few seconds: one access-log line per poll would drown real messages.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        print(f"IOC đang chạy / running at http://{config.host}:{config.port}", flush=True)
        # debug=False: no reloader, so the scheduler (and its single writer) runs in this one process only.
        app.run(host=config.host, port=int(config.port), debug=False)
    except KeyboardInterrupt:
        pass
    finally:
        print("Đang dừng… / stopping…", flush=True)
        if scheduler is not None:
            stop_scheduler(scheduler)
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
