"""A threaded HTTP server on a free port whose requests can be made to fail on purpose.

A Fault matches requests whose path starts with `path` and fires `times` times, once `after`
matching requests have gone through: an HTTP status
(429 with Retry-After, 5xx), a delay before answering, a connection closed without an answer
(`disconnect`, before the handler runs; `drop`, after it ran, so the work is done but the client
never hears of it), a real answer sent a byte every `delay_s` (`trickle`), or a wrong answer (`body`: `status` with `body` as `content_type`, as a proxy's
HTML page or another API would answer). Every request is logged as (method, path, status) for the tests to read.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    path: str
    kind: str  # status | delay | disconnect | drop | trickle | body
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    delay_s: float = 0.0
    after: int = 0  # let this many matching requests through first
    body: str = ""
    content_type: str = "text/html"


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes):
        parts = urlsplit(handler.path)
        self.method, self.path, self.body = handler.command, parts.path, body
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.headers = handler.headers


class Answer:
    def __init__(self, status: int, body: bytes | str | Any = b"", content_type: str = "application/json",
                 headers: dict[str, str] | None = None):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        self.status, self.content_type, self.headers = status, content_type, headers or {}
        self.body = body.encode() if isinstance(body, str) else body


class FaultyServer:
    def __init__(self):
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # the tests read server.log instead
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self, body)
                fault = server._take_fault(request.path)
                if fault and fault.kind == "disconnect":
                    return self._hang_up(request, "disconnect")
                if fault and fault.kind == "delay":
                    time.sleep(fault.delay_s)
                if fault and fault.kind == "status":
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    answer = Answer(fault.status, "injected fault", "text/plain", headers)
                elif fault and fault.kind == "body":
                    answer = Answer(fault.status, fault.body, fault.content_type)
                else:
                    answer = server.handle(request)
                    if fault and fault.kind == "drop":
                        return self._hang_up(request, "drop")
                with server.lock:
                    server.log.append((request.method, request.path, answer.status))
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if fault and fault.kind == "trickle":
                    for i in range(len(answer.body)):
                        self.wfile.write(answer.body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(fault.delay_s)
                else:
                    self.wfile.write(answer.body)

            def _hang_up(self, request: Request, why: str):
                with server.lock:
                    server.log.append((request.method, request.path, 0))
                self.close_connection = True
                self.connection.close()

            do_GET = do_POST = do_DELETE = _serve

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.http.shutdown()
        self.http.server_close()

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path) and fault.times > 0:
                    if fault.after:
                        fault.after -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None

    def calls(self, path: str) -> list[int]:
        """Statuses answered for requests to `path` (0: the connection was closed without an answer)."""
        with self.lock:
            return [status for _, p, status in self.log if p == path]

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError
