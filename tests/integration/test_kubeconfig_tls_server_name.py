"""``tls-server-name``: the real API server reached through an address its certificate does not name.

A VM worker's daemon reaches the host's kube-apiserver through a forwarded port
(tests/vm); here a forwarder on 127.0.0.2 plays that address.  The serving
certificate names 127.0.0.1 and ``kubernetes``, not 127.0.0.2: without
``tls-server-name`` the connection must fail verification, with it the session
works, and a name the certificate lacks still fails.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.session import api_session
from sriov_vmtest.relay import pump

pytestmark = pytest.mark.integration
OTHER_LOOPBACK = "127.0.0.2"  # Linux answers on all of 127.0.0.0/8


@pytest.fixture
def forwarded_port(control_plane: ControlPlane) -> Iterator[int]:
    """A TCP forwarder on 127.0.0.2 to the API server on 127.0.0.1; yields its port."""
    upstream_port = int(control_plane.api_url.rsplit(":", 1)[1])
    listener = socket.create_server((OTHER_LOOPBACK, 0))

    def serve(client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", upstream_port)) as upstream:
            pump(
                (client.fileno(), upstream.fileno(), lambda: upstream.shutdown(socket.SHUT_WR)),
                (upstream.fileno(), client.fileno(), lambda: client.shutdown(socket.SHUT_WR)),
            )

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield int(listener.getsockname()[1])
    listener.close()


def kubeconfig_through(control_plane: ControlPlane, port: int, server_name: str | None, path: Path) -> Path:
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    cluster["server"] = f"https://{OTHER_LOOPBACK}:{port}"
    if server_name is not None:
        cluster["tls-server-name"] = server_name
    path.write_text(yaml.safe_dump(config))
    return path


async def server_version(kubeconfig: Path) -> str:
    async with api_session(kubeconfig) as session:
        response = await session.request(
            "GET", "/version", query=[], headers={}, body=None, timeout=aiohttp.ClientTimeout(total=10)
        )
        async with response:
            assert response.status == 200
            version: str = (await response.json())["gitVersion"]
            return version


async def test_tls_server_name_verifies_the_certificate_against_the_given_name(
    control_plane: ControlPlane, forwarded_port: int, tmp_path: Path
) -> None:
    with pytest.raises(aiohttp.ClientConnectorCertificateError, match=re.escape(OTHER_LOOPBACK)):
        await server_version(kubeconfig_through(control_plane, forwarded_port, None, tmp_path / "plain"))
    for name in ("127.0.0.1", "kubernetes"):  # an IP and a DNS name the certificate has
        config = kubeconfig_through(control_plane, forwarded_port, name, tmp_path / name)
        assert (await server_version(config)).startswith("v1.")
    wrong = kubeconfig_through(control_plane, forwarded_port, "not-the-apiserver.invalid", tmp_path / "wrong")
    with pytest.raises(aiohttp.ClientConnectorCertificateError) as raised:
        await server_version(wrong)
    assert isinstance(raised.value.certificate_error, ssl.SSLCertVerificationError)
    assert "not-the-apiserver.invalid" in str(raised.value)
