"""Ask the API server for ``/version`` the way the config daemon will reach it; print the answer.

Usage (in a guest): ``python3 api_probe.py HOST PORT SERVER_NAME CA_FILE``: TLS to HOST:PORT,
the certificate checked against SERVER_NAME (the kubeconfig's ``tls-server-name``)
with CA_FILE, no credentials (``/version`` is public; any HTTP answer proves the
path and the certificate).  Exit 0 with the HTTP status and the answer's start on
stdout, or exit 1 with one line saying what failed.  Standard library only, so it
answers long before the daemon has imported its dependencies under emulation.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import sys


def main() -> int:
    host, port, server_name, ca_file = sys.argv[1:5]
    context = ssl.create_default_context(cafile=ca_file)
    try:
        # connect to HOST but check the certificate against (and send SNI for) SERVER_NAME
        raw = socket.create_connection((host, int(port)), timeout=30)
        connection = http.client.HTTPSConnection(host, int(port), timeout=30)
        connection.sock = context.wrap_socket(raw, server_hostname=server_name)
        connection.request("GET", "/version")
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        print(f"api_probe: https://{host}:{port} (as {server_name}): {error}", file=sys.stderr)
        return 1
    print(f"HTTP {response.status}: {body[:200].decode(errors='replace')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
