"""Real-kernel checks (``host`` marker): loopback-only network guard and a metadata server with faults."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection to an address outside 127.0.0.0/8 (e.g. the real 169.254.169.254)."""
    original = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0]) if isinstance(address, tuple) else str(address)
            if not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"host tests may only connect to loopback, not {address!r}")
        original(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@dataclass
class MetadataServer:
    """Serves ``routes`` (path -> list of replies, consumed in order; the last one repeats)."""

    url: str
    routes: dict[str, list[tuple[int, bytes, float]]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    raw: dict[str, tuple[bytes, float]] = field(default_factory=dict)

    def serve(self, path: str, *replies: tuple[int, bytes, float]) -> None:
        self.routes[path] = list(replies)

    def serve_json(self, path: str, body: object) -> None:
        self.serve(path, (200, json.dumps(body).encode(), 0.0))

    def serve_raw(self, path: str, response: bytes, seconds_per_byte: float = 0.0) -> None:
        """Answer with these exact bytes (status line, headers, body), trickled if asked, then close."""
        self.raw[path] = (response, seconds_per_byte)


@pytest.fixture
def metadata_server() -> Iterator[MetadataServer]:
    state = MetadataServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits[self.path] = state.hits.get(self.path, 0) + 1
            if self.path in state.raw:
                self.close_connection = True
                response, pause = state.raw[self.path]
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for index in range(len(response)) if pause else [0]:
                        self.wfile.write(response[index : index + 1] if pause else response)
                        self.wfile.flush()
                        time.sleep(pause)
                return
            replies = state.routes.get(self.path) or [(404, b"not found", 0.0)]
            status, body, delay = replies.pop(0) if len(replies) > 1 else replies[0]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            time.sleep(delay)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
