"""A small Nova metadata service on 127.0.0.1 for the sandbox's OpenStack VMs.

Nova tells VMs apart by their source address; here every VM shares 127.0.0.1,
so each gets its own path prefix: ``http://127.0.0.1:<port>/<vm>/openstack/<version>/…``
(the daemon's ``--metadata-url`` is the base up to ``/<vm>``).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Mapping
from typing import Any


class MetadataService:
    def __init__(self) -> None:
        self._documents: dict[str, bytes] = {}  # "<vm>/openstack/<version>/<file>" -> content
        documents = self._documents

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = documents.get(self.path.strip("/"))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metadata", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(self, vm: str, files: Mapping[str, bytes]) -> str:
        """Serve ``files`` (``openstack/<version>/<file>`` -> content) for ``vm``; its base URL."""
        for path, content in files.items():
            self._documents[f"{vm}/{path}"] = content
        return f"{self.url}/{vm}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
