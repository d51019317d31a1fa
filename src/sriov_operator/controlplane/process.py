"""Run a real etcd + kube-apiserver (+ controller manager and scheduler) on 127.0.0.1.

etcd and the API server listen on free loopback ports with TLS; the API server
has RBAC on and service-account signing keys, like a real cluster's.
kube-controller-manager runs the controllers a
cluster's objects depend on (CONTROLLERS: garbage collection, namespace
deletion, ServiceAccounts and their tokens, DaemonSets, Deployments, ...) and
kube-scheduler binds pods to nodes; neither serves HTTPS.  There is no kubelet:
a pod is scheduled but never runs.  ``stop()`` ends every process and removes
the working directory (certificates, etcd data, logs) unless ``keep_workdir``
is set.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from sriov_operator.controlplane.binaries import ControlPlaneBinaries, ensure_binaries
from sriov_operator.controlplane.pki import ControlPlanePki, create_pki
from sriov_operator.errors import HostError

LOOPBACK = "127.0.0.1"
SERVICE_CIDR = "10.0.0.0/24"  # never routed: the API server only needs it to allocate the kubernetes Service


# Controllers a test or the sandbox relies on. Left out on purpose: the node lifecycle and pod GC
# controllers (they would taint, and delete the pods of, nodes without a kubelet: every node here).
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "daemonset-controller",
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "job-controller",
    "endpointslice-controller",
    "disruption-controller",
    "resourcequota-controller",
)


class ControlPlaneError(HostError):
    """The control plane could not start; the message includes the tail of the failing log."""


_PR_SET_PDEATHSIG = 1
_START_ATTEMPTS = 3  # a free port can be taken by someone else between choosing and binding it


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the forked child must not call dlopen


def die_with_parent() -> None:
    """Runs in the child before exec: if the test run or sandbox is killed, so are we.

    It only calls prctl(2) through the already loaded libc, which is safe in a
    child forked from a threaded parent (no locks taken).
    """
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # throw-away data: no graceful shutdown needed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, pki: ControlPlanePki, context: str = "sriov-sandbox") -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority-data": _b64(pki.ca.cert)}}
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": _b64(pki.admin.cert),
                    "client-key-data": _b64(pki.admin.key),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": "admin"}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


@dataclass
class ControlPlane:
    binaries: ControlPlaneBinaries | None = None
    keep_workdir: bool = False
    startup_timeout: float = 90.0
    apiserver_args: tuple[str, ...] = ()  # extra kube-apiserver flags (e.g. "--watch-cache=false")
    workdir: Path = field(init=False)
    pki: ControlPlanePki = field(init=False)
    etcd_url: str = field(init=False, default="")
    api_url: str = field(init=False, default="")
    kubeconfig: Path = field(init=False)
    startup_seconds: float = field(init=False, default=0.0)
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(init=False, default_factory=list)

    # ------------------------------------------------------------------ start
    def start(self) -> Self:
        started = time.monotonic()
        self.binaries = self.binaries or ensure_binaries()
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except ControlPlaneError as error:
                self.stop()
                if "address already in use" not in str(error) or attempt == _START_ATTEMPTS:
                    raise
            except BaseException:
                self.stop()
                raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _start_once(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="sriov-controlplane-"))
        self.pki = create_pki(self.workdir / "pki")
        self._start_etcd()
        self._start_apiserver()
        self.kubeconfig = self.workdir / "kubeconfig"
        write_kubeconfig(self.kubeconfig, self.api_url, self.pki)
        self._wait_ready()
        self._start_controllers()
        self._wait_controllers()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        log.close()
        self._processes.append((name, process))
        return process

    def _start_etcd(self) -> None:
        assert self.binaries is not None
        client_port, peer_port = free_port(), free_port()
        self.etcd_url = f"https://{LOOPBACK}:{client_port}"
        peer_url = f"http://{LOOPBACK}:{peer_port}"
        self._spawn(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd-data'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                f"--cert-file={self.pki.etcd_serving.cert}",
                f"--key-file={self.pki.etcd_serving.key}",
                f"--trusted-ca-file={self.pki.ca.cert}",
                "--client-cert-auth=true",
                "--unsafe-no-fsync=true",  # throw-away data: durability buys nothing here
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self, port: int | None = None) -> None:
        assert self.binaries is not None
        port = port or free_port()
        self.api_url = f"https://{LOOPBACK}:{port}"
        self._spawn(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--bind-address={LOOPBACK}",
                f"--advertise-address={LOOPBACK}",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={self.pki.apiserver_serving.cert}",
                f"--tls-private-key-file={self.pki.apiserver_serving.key}",
                f"--client-ca-file={self.pki.ca.cert}",
                f"--etcd-servers={self.etcd_url}",
                f"--etcd-cafile={self.pki.ca.cert}",
                f"--etcd-certfile={self.pki.etcd_client.cert}",
                f"--etcd-keyfile={self.pki.etcd_client.key}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={self.pki.service_account_pub}",
                f"--service-account-signing-key-file={self.pki.service_account_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
                # It taints every new Node not-ready until the node lifecycle controller sees a
                # kubelet's heartbeat; with no kubelet and that controller left out (CONTROLLERS), the
                # Nodes tests and the sandbox register would never take a pod.
                "--disable-admission-plugins=TaintNodesByCondition",
                *self.apiserver_args,
            ],
        )

    def _start_controllers(self) -> None:
        assert self.binaries is not None
        common = [f"--kubeconfig={self.kubeconfig}", "--leader-elect=false", "--secure-port=0", "--v=1"]
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                *common,
                f"--controllers={','.join(CONTROLLERS)}",
                f"--service-account-private-key-file={self.pki.service_account_key}",
                f"--root-ca-file={self.pki.ca.cert}",
                "--use-service-account-credentials=true",  # each controller acts as its own account
                "--concurrent-gc-syncs=5",
            ],
        )
        self._spawn("kube-scheduler", [str(self.binaries.kube_scheduler), *common])

    def _wait_controllers(self) -> None:
        """Until the ServiceAccount controller made ``default/default`` (the controller manager works)."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self.get_json("/api/v1/namespaces/default/serviceaccounts/default")
                return
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise ControlPlaneError(
            f"kube-controller-manager made no default ServiceAccount in {self.startup_timeout:.0f}s; "
            f"last lines of its log:\n{_log_tail(self.workdir / 'kube-controller-manager.log')}"
        )

    def _check_alive(self) -> None:
        for name, process in self._processes:
            if process.poll() is not None:
                log = self.workdir / f"{name}.log"
                raise ControlPlaneError(
                    f"{name} exited with code {process.returncode} during start-up; "
                    f"last lines of {log}:\n{_log_tail(log)}"
                )

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        return context

    def get_json(self, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> Any:
        """GET a path of the API server as the admin user (stdlib only: used before any client exists)."""
        request = urllib.request.Request(f"{self.api_url}{path}", headers=headers or {})
        with urllib.request.urlopen(request, context=self._ssl_context(), timeout=timeout) as response:
            return json.loads(response.read())

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        context = self._ssl_context()
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(f"{self.api_url}/readyz", context=context, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError) as error:
                last_error = str(error)
            time.sleep(0.2)
        raise ControlPlaneError(
            f"kube-apiserver at {self.api_url} not ready after {self.startup_timeout:.0f}s ({last_error}); "
            f"last lines of its log:\n{_log_tail(self.workdir / 'kube-apiserver.log')}"
        )

    # ------------------------------------------------------- faults for tests
    def restart_apiserver(self) -> None:
        """Stop kube-apiserver (SIGTERM) and start it again on the same port; etcd keeps running."""
        for index, (name, process) in enumerate(self._processes):
            if name == "kube-apiserver":
                _terminate(process)
                del self._processes[index]
                break
        self._start_apiserver(int(self.api_url.rsplit(":", 1)[1]))
        self._wait_ready()

    def _etcd_call(self, method: str, body: dict[str, Any]) -> Any:
        """One call to etcd's JSON gateway (``/v3/...``) with the etcd client certificate."""
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(self.pki.etcd_client.cert), str(self.pki.etcd_client.key))
        request = urllib.request.Request(
            f"{self.etcd_url}/v3/{method}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return json.loads(response.read())

    def compact_etcd(self) -> int:
        """Compact etcd's history up to its current revision (older resourceVersions become 410 Gone)."""
        header = self._etcd_call("kv/range", {"key": base64.b64encode(b"/").decode()})["header"]
        revision = int(header["revision"])
        self._etcd_call("kv/compaction", {"revision": revision, "physical": True})
        return revision

    # ------------------------------------------------------------------- stop
    def stop(self) -> None:
        for _, process in reversed(self._processes):  # scheduler, controller manager, apiserver, etcd
            _terminate(process)
        self._processes.clear()
        workdir = getattr(self, "workdir", None)
        if workdir is not None and not self.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    def all_running(self) -> bool:
        return bool(self._processes) and all(process.poll() is None for _, process in self._processes)

    def pids(self) -> list[int]:
        return [process.pid for _, process in self._processes]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def process_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
