"""A local HTTP server base for connector tests: 127.0.0.1 on a free port, with faults injected per page."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


@dataclass
class Fault:
    """What to do to the next ``times`` requests for page ``page`` (page 1 when not paged): "status", "slow" or "invalid_json"."""

    page: int
    kind: str
    times: int = 1
    status: int = 500
    seconds: float = 0.0


class LocalHTTPServer:
    """Serves ``self._handler()`` in a thread; subclasses answer requests and call ``_take_fault`` per page."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.log: list[dict[str, str]] = []  # query parameters of every data request, in order
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _take_fault(self, page: int) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.page == page and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None
