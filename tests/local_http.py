"""A local HTTP server base for connector tests: 127.0.0.1 on a free port, with faults injected per page."""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Fault:
    """What to do to the next ``times`` requests for page ``page`` (page 1 when not paged): "status", "slow" or "invalid_json"."""

    page: int
    kind: str
    times: int = 1
    status: int = 500
    seconds: float = 0.0


class LocalHTTPServer:
    """Serves GET requests in a thread: subclasses say what each one gets (``_answer``), faults per page included."""

    CONTENT_TYPE = "application/json"

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.log: list[dict[str, str]] = []  # query parameters of every data request, in order
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _answer(self, path: str, query: dict[str, str], headers: Message) -> tuple[int, bytes, float]:
        """Status, body and seconds to wait before answering, for one GET."""
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                status, body, delay = server._answer(parsed.path, dict(urllib.parse.parse_qsl(parsed.query)), self.headers)
                if delay:
                    time.sleep(delay)  # before any byte is sent: the client's read times out
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", server.CONTENT_TYPE)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

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

    def _with_fault(self, page: int, body: bytes) -> tuple[int, bytes, float]:
        """``body`` for page ``page``, unless a fault is queued for it: an error status, cut JSON, or a delay."""
        fault = self._take_fault(page)
        if fault is not None and fault.kind == "status":
            return fault.status, b"<html>Internal Server Error</html>", 0.0
        if fault is not None and fault.kind == "invalid_json":
            return 200, body[:-40], 0.0
        return 200, body, fault.seconds if fault is not None and fault.kind == "slow" else 0.0
