"""A real-kernel worker node: a test machine running ``sriov-operator daemon`` for a node.

The machine is the OpenStack VM (``platform="openstack"``) or the bare-metal
igb host (``platform="baremetal"``, which can `VmWorker.reboot`).

The daemon in the guest reaches an API server on this host's 127.0.0.1 the
way the guest reaches Nova's metadata service: a ``guestfwd`` address on QEMU's
user network (`KUBE_API_ADDRESS`) relayed through a Unix socket to the server's
port (relay.py).  The server's certificate does not name that address, so the
guest's kubeconfig sets ``tls-server-name`` to the host the server URL names:
the guest checks the certificate exactly as a client on this host does.  The
OpenStack guest reads its Neutron ports from a config drive (`nova.py`); the
daemon runs on the guest's real root (``--host-root /``) and logs to the serial
console.

    access = ApiServerAccess.with_token(url, ca_pem, token)  # or .from_kubeconfig(path)
    with VmWorker(node, namespace, access, bundle, run_dir, project).start() as worker:
        ...  # the NodeState converges; worker.run([...]) looks inside the guest
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import shlex
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

import yaml

from sriov_operator.errors import BadInputError
from sriov_operator.host.simulator.config_drive_image import write_config_drive_image
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import GUEST_TOOLS, GuestForward, GuestResult, TestMachine, VmError
from sriov_vmtest.nova import nova_documents, provider_id
from sriov_vmtest.profiles import baremetal_worker, openstack_vm
from sriov_vmtest.relay import UnixToLoopbackBridge

log = logging.getLogger(__name__)

KUBE_API_ADDRESS = "169.254.0.8"  # on the guest's user network (169.254.0.0/16); relayed to the host
KUBE_API_PORT = 443
GUEST_CONFIG_DIR = "/run/sriov-operator"  # tmpfs in the guest: kubeconfig, ca.crt
INLINE_CREDENTIALS = ("token", "client-certificate-data", "client-key-data")
API_PROBE = f"{GUEST_TOOLS}/api_probe.py"
INSTANCE_NAMESPACE = uuid.UUID("6f1c1d52-9f55-4c59-a1b0-5a0e6c7d2b11")  # node name -> stable instance UUID
WORKER_LABELS = {  # a worker the operator manages, marked SR-IOV capable (the seed policies' node selector)
    "node-role.kubernetes.io/worker": "",
    "kubernetes.io/os": "linux",
    "feature.node.kubernetes.io/network-sriov.capable": "true",
}


@dataclass(frozen=True)
class ApiServerAccess:
    """An API server on this host's loopback and the credentials the worker's daemon uses.

    ``user`` is a kubeconfig ``user`` entry with its data inline: ``{"token": ...}``
    or ``{"client-certificate-data": ..., "client-key-data": ...}``.
    """

    url: str  # https://127.0.0.1:PORT
    ca_pem: bytes
    user: Mapping[str, str]

    @classmethod
    def with_token(cls, url: str, ca_pem: bytes, token: str) -> ApiServerAccess:
        return cls(url, ca_pem, {"token": token})

    @classmethod
    def from_kubeconfig(cls, path: Path) -> ApiServerAccess:
        """Server, CA and credentials of a kubeconfig's current context, which must carry them inline."""
        try:
            config = yaml.safe_load(path.read_text())
            current = config["current-context"]
            context = next(c["context"] for c in config["contexts"] if c["name"] == current)
            cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
            user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
            ca_pem = base64.b64decode(cluster["certificate-authority-data"])
        except (OSError, yaml.YAMLError, KeyError, TypeError, StopIteration, ValueError) as error:
            raise BadInputError(
                f"kubeconfig {path}: a VM worker needs the current context's server, "
                f"certificate-authority-data and an inline user ({type(error).__name__}: {error})"
            ) from error
        inline = {k: str(v) for k, v in user.items() if k in INLINE_CREDENTIALS}
        if not inline:
            raise BadInputError(
                f"kubeconfig {path}: users[{context['user']}]: a VM worker needs one of "
                f"{', '.join(INLINE_CREDENTIALS)} (inline: the guest cannot read this host's files)"
            )
        return cls(str(cluster["server"]), ca_pem, inline)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The server's port on 127.0.0.1; the URL must name the loopback (the only host a guest reaches)."""
        parts = urlsplit(self.url)
        try:
            loopback = ipaddress.ip_address(parts.hostname or "") == ipaddress.ip_address("127.0.0.1")
            port = parts.port
        except ValueError:
            loopback, port = False, None
        if parts.scheme != "https" or not loopback or port is None:
            raise BadInputError(
                f"API server URL {self.url!r}: a VM worker reaches only https://127.0.0.1:PORT on this host"
            )
        return port


def guest_kubeconfig(access: ApiServerAccess) -> str:
    """The daemon's kubeconfig in the guest; ``ca.crt`` sits beside it."""
    cluster = {
        "server": f"https://{KUBE_API_ADDRESS}:{KUBE_API_PORT}",
        "certificate-authority": "ca.crt",
        "tls-server-name": access.host,  # the certificate names the host's address, not the forwarded one
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "host", "cluster": cluster}],
        "users": [{"name": "config-daemon", "user": dict(access.user)}],
        "contexts": [{"name": "host", "context": {"cluster": "host", "user": "config-daemon"}}],
        "current-context": "host",
    }
    return yaml.safe_dump(config, sort_keys=False)


def daemon_argv(node_name: str, namespace: str, rediscover_seconds: float) -> list[str]:
    return [
        "sriov-operator", "daemon", "--node-name", node_name, "--namespace", namespace,
        "--kubeconfig", f"{GUEST_CONFIG_DIR}/kubeconfig", "--host-root", "/", "--health-port", "-1",
        "--rediscover-interval", f"{rediscover_seconds:g}",
    ]  # fmt: skip


def instance_uuid(node_name: str) -> str:
    return str(uuid.uuid5(INSTANCE_NAMESPACE, node_name))


Platform = Literal["openstack", "baremetal"]


def node_manifest(
    node_name: str, labels: dict[str, str] | None = None, platform: Platform = "openstack"
) -> dict[str, Any]:
    """The Node object a VM worker joins as: worker labels; an OpenStack instance's providerID."""
    spec = {"providerID": provider_id(instance_uuid(node_name))} if platform == "openstack" else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node_name, "labels": {**WORKER_LABELS, **(labels or {})}},
        "spec": spec,
    }


@dataclass
class VmWorker:
    """A test machine whose config daemon serves ``node_name``; ``start()`` boots it, ``stop()`` ends it.

    ``start()`` returns once the guest reached the API server (a standard-library
    probe, quick under emulation) and the daemon was started; it raises `VmError`
    with the console's tail when the guest does not boot or cannot reach the server.
    """

    node_name: str
    namespace: str
    api: ApiServerAccess
    bundle: Bundle
    run_dir: Path
    project: Path  # the checkout shared into the guest (its src/ is what the guest runs)
    accel: str = "tcg"
    rediscover_seconds: float = 30.0
    platform: Platform = "openstack"
    machine: TestMachine | None = field(default=None, init=False)
    daemon_pid: int = field(default=0, init=False)
    _bridge: UnixToLoopbackBridge | None = field(default=None, init=False, repr=False)

    @property
    def console_log(self) -> Path:
        """The guest's serial console, where the daemon logs."""
        return self.run_dir / "console.log"

    def start(self) -> Self:
        port = self.api.port
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._bridge = UnixToLoopbackBridge(self.run_dir / "kube-api.sock", port)
        forward = GuestForward(KUBE_API_ADDRESS, KUBE_API_PORT, self._bridge.path)
        if self.platform == "openstack":
            config_drive = self.run_dir / "config-2.iso"
            documents = nova_documents(instance_uuid(self.node_name))
            files = {path: json.dumps(body).encode() for path, body in documents.items()}
            write_config_drive_image(files, config_drive)
            spec = openstack_vm(config_drive, None, forwards=(forward,), name=self.node_name)
        else:
            spec = baremetal_worker(self.node_name, (forward,))
        self.machine = TestMachine(spec, self.bundle, self.run_dir, self.project, accel=self.accel)
        try:
            self.machine.boot()
            self._install_credentials()
            self._probe_api_server()
            self.start_daemon()
        except BaseException:
            self.stop()
            raise
        return self

    def reboot(self) -> Self:
        """Reboot the guest (bare metal only) and make it ready for its daemon again: the credentials
        (on a tmpfs) are written anew and the API server is probed.  The daemon is not started: like a
        DaemonSet Pod after a node's reboot, it comes back when `start_daemon` is called."""
        self._guest().reboot()
        self.daemon_pid = 0
        self._install_credentials()
        self._probe_api_server()
        return self

    def _guest(self) -> TestMachine:
        if self.machine is None:
            raise VmError(f"VM worker {self.node_name}: not started")
        return self.machine

    def _must(self, what: str, result: GuestResult) -> GuestResult:
        if result.returncode != 0:
            raise VmError(
                f"VM worker {self.node_name}: {what} failed:\n{result}\n{self._guest().console_tail()}"
            )
        return result

    def _install_credentials(self) -> None:
        for name, text in (("ca.crt", self.api.ca_pem.decode()), ("kubeconfig", guest_kubeconfig(self.api))):
            script = f"mkdir -p {GUEST_CONFIG_DIR} && umask 077 && cat > {GUEST_CONFIG_DIR}/{name}"
            self._must(f"writing {name}", self.run(["sh", "-c", script], input=text))

    def _probe_api_server(self) -> None:
        ca_file = f"{GUEST_CONFIG_DIR}/ca.crt"
        probe = ["python3", API_PROBE, KUBE_API_ADDRESS, str(KUBE_API_PORT), self.api.host, ca_file]
        answer = self._must(
            f"reaching the API server (relayed to {self.api.url})", self.run(probe, timeout=120)
        )
        log.info("%s reaches the API server: %s", self.node_name, answer.stdout.strip())

    def start_daemon(self) -> None:
        command = shlex.join(daemon_argv(self.node_name, self.namespace, self.rediscover_seconds))
        in_background = f"{command} </dev/null >/dev/console 2>&1 & echo $!"
        started = self._must("starting the daemon", self.run(["sh", "-c", in_background]))
        self.daemon_pid = int(started.stdout)

    def run(self, argv: list[str], *, input: str = "", timeout: float = 300.0) -> GuestResult:
        """Run a program in the guest (see `TestMachine.run`)."""
        return self._guest().run(argv, input=input, timeout=timeout)

    def daemon_running(self) -> bool:
        return self.run(["test", "-d", f"/proc/{self.daemon_pid}"]).returncode == 0

    def diagnosis(self) -> str:
        """Whether QEMU and the daemon still run, and the console's tail (the daemon's log)."""
        machine = self._guest()
        if not machine.alive():
            state = "QEMU exited"
        else:
            state = f"daemon pid {self.daemon_pid} {'running' if self.daemon_running() else 'exited'}"
        return f"VM worker {self.node_name}: {state}; logs in {self.run_dir}\n{machine.console_tail(60)}"

    def stop(self) -> None:
        if self.machine is not None:
            self.machine.stop()
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
