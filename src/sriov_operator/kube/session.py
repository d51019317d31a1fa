"""A light HTTP session to the API server, from a kubeconfig or the in-cluster service account.

The processes talk to the API server through this aiohttp session instead of
kubernetes_asyncio's ApiClient: importing the generated client costs about
40 MiB of resident memory per process, more than all the caches of a
5,000-node cluster (bench/RESULTS.md, "Process runtime").

Supported credentials: client certificates (files or ``-data``), bearer tokens
(``token``, ``tokenFile``; the in-cluster token file is re-read every minute,
as the kubelet rotates it). Credential plugins (``exec``, ``auth-provider``) are
not: a kubeconfig that needs one is rejected naming the field.

A cluster's ``tls-server-name`` is the name the server's certificate is checked
against (and sent as SNI) instead of the server URL's host: for a server reached
through an address its certificate does not name, such as a forwarded port.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from sriov_operator.errors import BadInputError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REREAD_SECONDS = 60.0
READ_BUFFER = 2**21  # one watch event can be a large object (etcd allows 1.5 MiB)


class KubeconfigError(BadInputError):
    """The kubeconfig cannot be used: names the file, the field and what is accepted."""


@dataclass(frozen=True)
class ClusterAccess:
    server: str  # https://host:port, no trailing slash
    ssl_context: ssl.SSLContext
    token: str | None = None
    token_file: Path | None = None
    tls_server_name: str | None = None  # check the certificate against this name, not the URL's host


def _decode(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError as error:
        raise KubeconfigError(f"{where}: not base64 ({error})") from error


def _named(entries: Any, name: str, section: str, source: Path) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(section.rstrip("s"))
            return body if isinstance(body, dict) else {}
    raise KubeconfigError(f"kubeconfig {source}: {section}: no entry named {name!r}")


def _load_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """ssl loads a certificate chain from files only: write both to a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="sriov-kubeconfig-") as directory:
        cert_path, key_path = Path(directory) / "cert.pem", Path(directory) / "key.pem"
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key)
        context.load_cert_chain(str(cert_path), str(key_path))


def access_from_kubeconfig(path: Path, context_name: str | None = None) -> ClusterAccess:
    """Server, TLS and credentials of the current (or named) context of a kubeconfig file."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise KubeconfigError(f"kubeconfig {path}: cannot read it ({error})") from error
    if not isinstance(config, dict):
        raise KubeconfigError(f"kubeconfig {path}: not a mapping")
    name = context_name or config.get("current-context")
    if not name:
        raise KubeconfigError(f"kubeconfig {path}: current-context: not set")
    context = _named(config.get("contexts"), name, "contexts", path)
    cluster = _named(config.get("clusters"), str(context.get("cluster")), "clusters", path)
    user = _named(config.get("users"), str(context.get("user")), "users", path)
    base = path.parent

    def file_or_data(body: dict[str, Any], key: str, where: str) -> bytes | None:
        if body.get(f"{key}-data"):
            return _decode(str(body[f"{key}-data"]), f"kubeconfig {path}: {where}.{key}-data")
        if body.get(key):
            try:
                return (base / str(body[key])).read_bytes()
            except OSError as error:
                raise KubeconfigError(f"kubeconfig {path}: {where}.{key}: {error}") from error
        return None

    server = str(cluster.get("server") or "").rstrip("/")
    if not server.startswith("https://"):
        raise KubeconfigError(
            f"kubeconfig {path}: clusters[{context.get('cluster')}].server: {server!r} is not https://"
        )
    ca = file_or_data(cluster, "certificate-authority", f"clusters[{context.get('cluster')}]")
    tls_server_name = cluster.get("tls-server-name")
    if tls_server_name is not None and (not isinstance(tls_server_name, str) or not tls_server_name):
        raise KubeconfigError(
            f"kubeconfig {path}: clusters[{context.get('cluster')}].tls-server-name: {tls_server_name!r} "
            "is not a host name (accepted: the DNS name or IP address the server's certificate names)"
        )
    ssl_context = ssl.create_default_context(cadata=ca.decode() if ca else None)
    if cluster.get("insecure-skip-tls-verify"):
        ssl_context.check_hostname = False
        ssl_context.verify_mode = ssl.CERT_NONE
    where = f"users[{context.get('user')}]"
    for unsupported in ("exec", "auth-provider"):
        if user.get(unsupported):
            raise KubeconfigError(
                f"kubeconfig {path}: {where}.{unsupported}: credential plugins are not supported "
                "(accepted: client-certificate/client-key, token, tokenFile)"
            )
    cert = file_or_data(user, "client-certificate", where)
    key = file_or_data(user, "client-key", where)
    if cert and key:
        _load_chain(ssl_context, cert, key)
    token_file = base / str(user["tokenFile"]) if user.get("tokenFile") else None
    return ClusterAccess(
        server, ssl_context, token=user.get("token"), token_file=token_file, tls_server_name=tls_server_name
    )


def in_cluster_server(environ: Mapping[str, str]) -> str:
    """``https://host:port`` of the kubernetes Service, from the variables the kubelet gives every pod."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        return ""
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def in_cluster_access(server: str, account: Path = SERVICE_ACCOUNT) -> ClusterAccess:
    """The API server as a pod sees it, with the pod's service account."""
    if not server:
        raise KubeconfigError(
            "--kubeconfig: not set and KUBERNETES_SERVICE_HOST is unset: not in a pod (give a kubeconfig)"
        )
    try:
        ssl_context = ssl.create_default_context(cafile=str(account / "ca.crt"))
    except OSError as error:
        raise KubeconfigError(
            f"in-cluster: {account / 'ca.crt'}: {error} (no service account mounted?)"
        ) from error
    return ClusterAccess(server, ssl_context, token_file=account / "token")


class ApiSession:
    """One aiohttp session (connection pool) to one API server."""

    def __init__(self, access: ClusterAccess) -> None:
        self.access = access
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=access.ssl_context, limit=64),
            read_bufsize=READ_BUFFER,
        )
        self._token = access.token
        self._token_read_at = float("-inf")

    def _authorization(self) -> dict[str, str]:
        if (
            self.access.token_file is not None
            and time.monotonic() - self._token_read_at > TOKEN_REREAD_SECONDS
        ):
            self._token = self.access.token_file.read_text().strip()
            self._token_read_at = time.monotonic()
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        data = None if body is None else _json_bytes(body)
        return await self._session.request(
            method,
            self.access.server + path,
            params=query,
            data=data,
            headers={**headers, **self._authorization()},
            timeout=timeout,
            server_hostname=self.access.tls_server_name,
        )

    async def close(self) -> None:
        await self._session.close()


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


@asynccontextmanager
async def api_session(kubeconfig: Path | None, in_cluster: str = "") -> AsyncIterator[ApiSession]:
    """A session from ``kubeconfig``, or, when None, in-cluster to the server ``in_cluster`` names."""
    access = access_from_kubeconfig(kubeconfig) if kubeconfig is not None else in_cluster_access(in_cluster)
    session = ApiSession(access)
    try:
        yield session
    finally:
        await session.close()
