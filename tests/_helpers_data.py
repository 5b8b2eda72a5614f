"""A tiny HTTP server on 127.0.0.1 for the download tests (no real network)."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Route:
    """What the server answers on one path.

    ``body`` is sent; ``declared_length`` (default: ``len(body)``) is the
    Content-Length header, so a larger value simulates a connection that is
    cut short; ``delay`` seconds are waited before answering; ``status`` is
    the HTTP status code; ``location`` is sent as a Location header
    (redirects); ``stall`` seconds are waited after the body, with the
    connection open (a transfer that hangs part way).
    """

    body: bytes = b""
    declared_length: int | None = None
    delay: float = 0.0
    status: int = 200
    location: str | None = None
    stall: float = 0.0


@dataclass
class LocalServer:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def start_server(server_state: LocalServer) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.requests.append(self.path)
            route = server_state.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.delay:
                time.sleep(route.delay)
            length = len(route.body) if route.declared_length is None else route.declared_length
            self.send_response(route.status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            if route.location is not None:
                self.send_header("Location", route.location)
            self.end_headers()
            try:
                self.wfile.write(route.body)
                self.wfile.flush()
                if route.stall:
                    time.sleep(route.stall)
            except OSError:  # the client gave up (timeout tests)
                pass
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return httpd, thread


def block_network(monkeypatch, error: BaseException | None = None) -> None:
    """Make every HTTP request of ``requests`` (pooch's client) fail.

    Without ``error`` the request fails the test (AssertionError naming the
    address); with one, that error is raised as a failing connection would.
    """
    import requests

    def send(self, request, **kwargs):
        if error is None:
            raise AssertionError(f"unexpected network access to {request.url}")
        raise error

    monkeypatch.setattr(requests.Session, "send", send)
