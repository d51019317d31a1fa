"""The whole system on one machine: control plane, operator, webhook, workers and their config daemons.

:func:`run_sandbox` starts everything on 127.0.0.1 in this order, then watches:

1. kube-apiserver + etcd, the CRDs (ours and Multus's), the operator's namespace and RBAC;
2. the workers: simulated hosts (and, for OpenStack VMs, a metadata service or a
   config drive each) and their Node objects;
3. the operator (``--webhook-url`` on 127.0.0.1: it makes the webhook's CA and
   serving certificate and registers the webhook configurations), one config daemon
   per worker, and the webhook, once the operator has written its serving Secret
   (copied to files the webhook reloads);
4. with examples: the ``dpdk1`` and ``hwoffload1`` policies, a SriovNetwork per resource and a
   pod naming both networks, all through the webhook.

Every second it reads the objects, publishes each node's device-plugin resources
(the sandbox stands in for the device plugin: see ``device_plugin.py``), does the
kubelet's part for the pods bound to its nodes (``kubelet.py``, written by
``kubelet_stand_in.py``), redraws the table and checks the child processes.
Everything it decides is in the pure modules (``table``, ``convergence``,
``device_plugin``, ``kubelet``); this module fetches and writes.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import logging
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from sriov_operator.api.constants import (
    DEFAULT_RESOURCE_PREFIX,
    INJECTOR_WEBHOOK_CONFIG_NAME,
    OPERATOR_WEBHOOK_CONFIG_NAME,
    WEBHOOK_SERVING_SECRET,
)
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.errors import BadInputError, HostError
from sriov_operator.install.objects import OPERATOR_NAME as OPERATOR_SERVICE_ACCOUNT
from sriov_operator.install.objects import operator_rbac
from sriov_operator.kube.errors import KubeApiError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    MUTATING_WEBHOOK_CONFIGURATIONS,
    NODES,
    PODS,
    SECRETS,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_NETWORKS,
    SRIOV_OPERATOR_CONFIGS,
    VALIDATING_WEBHOOK_CONFIGURATIONS,
)
from sriov_operator.kube.session import api_session
from sriov_operator.sandbox.children import Children
from sriov_operator.sandbox.cluster import (
    FIELD_MANAGER,
    RBAC_RESOURCES,
    apply_all,
    install_api,
    operator_config,
    publish_kubeconfig,
    register_node,
    service_account_kubeconfig,
)
from sriov_operator.sandbox.convergence import injected_resources, scheduled_node, waiting_for
from sriov_operator.sandbox.device_plugin import capacity_patch, handed_over_resources
from sriov_operator.sandbox.display import Display
from sriov_operator.sandbox.examples import POD_NAME, WORKLOAD_NAMESPACE, Examples, examples
from sriov_operator.sandbox.hosts import Platform
from sriov_operator.sandbox.kubelet_stand_in import KubeletStandIn
from sriov_operator.sandbox.metadata_service import MetadataService
from sriov_operator.sandbox.snapshot import Snapshot
from sriov_operator.sandbox.table import rows
from sriov_operator.sandbox.workers import DaemonContext, SimulatedWorker, Worker, simulated_workers

if TYPE_CHECKING:
    from sriov_operator.sandbox.vm_workers import VmSandboxWorker

logger = logging.getLogger(__name__)
TICK_SECONDS = 1.0
VM_TOOLKIT_HINT = (
    "--vm-workers: needs the VM toolkit (test tooling: package sriov_vmtest, tools/vmtest in the project's "
    "clone, not in the wheel or the image); from the clone: EXTRAS=test source scripts/bootstrap.sh"
)


def load_vm_workers() -> ModuleType:
    """``sandbox/vm_workers.py``, imported only when VM workers are asked for (it pulls in the VM
    toolkit); a clear error when the toolkit is not installed."""
    try:
        return importlib.import_module("sriov_operator.sandbox.vm_workers")
    except ModuleNotFoundError as error:
        if error.name is None or not error.name.startswith("sriov_vmtest"):
            raise
        raise BadInputError(VM_TOOLKIT_HINT) from error


LOOPBACK = "127.0.0.1"


def health_ports(first: int | None, workers: int) -> dict[str, int]:
    """Each process's health/metrics port: from ``first`` on (operator, webhook, then the daemons of
    worker-0, worker-1, ...), or free ones."""
    names = ["operator", "webhook", *(f"daemon-worker-{i}" for i in range(workers))]
    if first is None:
        return {name: free_port() for name in names}
    return {name: first + offset for offset, name in enumerate(names)}


class SandboxError(HostError):
    """The sandbox did not come up (a child exited, or it did not converge in time); says why."""


@dataclass(frozen=True)
class SandboxOptions:
    workers: int = 2
    platform: Platform = "openstack"
    apply_examples: bool = False
    until_synced: bool = False
    timeout: float = 300.0
    namespace: str = "sriov-network-operator"
    kubeconfig: Path = Path("kubeconfig")
    resource_prefix: str = DEFAULT_RESOURCE_PREFIX
    workdir: Path | None = None  # hosts and logs; None: a temporary directory, removed after a clean exit
    vm_workers: int = 0  # OpenStack VMs in QEMU with real kernels (sandbox/vm_workers.py), beside `workers`
    control_plane_only: bool = False  # a bare cluster: the control plane and its controllers, nothing of ours
    health_ports: int | None = None  # first of the processes' health/metrics ports; None: free ports


@dataclass
class Sandbox:
    """Everything one run owns; :meth:`stop` releases it all."""

    options: SandboxOptions
    display: Display
    directory: Path = field(init=False)
    plane: ControlPlane = field(default_factory=ControlPlane)
    metadata: MetadataService = field(default_factory=MetadataService)
    workers: list[Worker] = field(default_factory=list)
    vms: list[VmSandboxWorker] = field(default_factory=list)
    children: Children = field(init=False)
    webhook_port: int = field(default_factory=free_port)
    health_ports: dict[str, int] = field(init=False)  # process name -> its /healthz, /readyz, /metrics port
    examples: Examples | None = field(init=False)  # what --apply-examples applies
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.options.workdir is None:
            self.directory = Path(tempfile.mkdtemp(prefix="sriov-sandbox-"))
        else:
            self.directory = self.options.workdir
        self.logs.mkdir(parents=True, exist_ok=True)
        self.children = Children(self.logs)
        chosen = self.options
        self.examples = (
            examples(chosen.namespace, chosen.platform, chosen.workers) if chosen.apply_examples else None
        )
        self.health_ports = health_ports(chosen.health_ports, chosen.workers)

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def tls_dir(self) -> Path:
        return self.directory / "webhook-tls"

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.1f}s"

    def say(self, message: str) -> None:
        self.display.say(f"[{self.elapsed()}] {message}")

    def stop(self, keep_directory: bool) -> None:
        for vm in self.vms:
            vm.stop()
        self.children.stop()
        self.metadata.stop()
        self.plane.stop()
        if not keep_directory and self.options.workdir is None:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -------------------------------------------------------------- start
    def start_control_plane(self) -> Path:
        self.say("starting kube-apiserver, etcd, kube-controller-manager and kube-scheduler on 127.0.0.1 ...")
        self.plane.start()
        kubeconfig = publish_kubeconfig(self.plane, self.options.kubeconfig)
        version = self.plane.get_json("/version")["gitVersion"]
        self.say(f"kube-apiserver {version} at {self.plane.api_url} (kubeconfig: {kubeconfig})")
        return kubeconfig

    def create_workers(self) -> list[SimulatedWorker]:
        seed = uuid.uuid4().hex
        workers = simulated_workers(
            self.options.platform, self.options.workers, seed, self.directory / "hosts", self.metadata
        )
        self.metadata.start()
        for worker in workers:
            worker.prepare()
        self.workers.extend(workers)
        return workers

    def create_vm_workers(self) -> list[VmSandboxWorker]:
        if not self.options.vm_workers:
            return []
        self.say(f"{self.options.vm_workers} VM worker(s): the guest bundle (built on first use) ...")
        self.vms = load_vm_workers().vm_workers(self.options.vm_workers, self.directory / "vms")
        self.workers.extend(self.vms)
        return self.vms

    def operator_argv(self, kubeconfig: Path) -> list[str]:
        return [
            sys.executable, "-m", "sriov_operator.cli", "operator",
            "--namespace", self.options.namespace, "--kubeconfig", str(kubeconfig),
            "--leader-elect=false", *self.health_flags("operator"),
            "--resource-prefix", self.options.resource_prefix,
            "--webhook-url", f"https://{LOOPBACK}:{self.webhook_port}", "--webhook-cert-ip", LOOPBACK,
        ]  # fmt: skip

    def webhook_argv(self) -> list[str]:
        return [
            sys.executable, "-m", "sriov_operator.cli", "webhook",
            "--namespace", self.options.namespace, "--kubeconfig", str(self.plane.kubeconfig),
            *self.health_flags("webhook"), "--address", LOOPBACK, "--port", str(self.webhook_port),
            "--tls-cert", str(self.tls_dir / "tls.crt"), "--tls-key", str(self.tls_dir / "tls.key"),
            "--resource-prefix", self.options.resource_prefix,
        ]  # fmt: skip

    def health_flags(self, process: str) -> list[str]:
        """The health/metrics server of ``process`` on its port, on 127.0.0.1 only."""
        return ["--health-port", str(self.health_ports[process]), "--health-address", LOOPBACK]

    def check_children(self) -> None:
        for vm in self.vms:
            if (console := vm.failure()) is not None:
                raise SandboxError(f"{vm.name}: its VM exited; console:\n{console}")
        child = self.children.exited()
        if child is not None:
            raise SandboxError(
                f"{child.name} exited with code {child.process.returncode} (log: {child.log}): "
                + " | ".join(child.log_tail(3).splitlines())
            )


async def _copy_serving_secret(objects: KubeObjects, sandbox: Sandbox) -> bool:
    """Write the webhook's serving Secret to files (when it changed); False while it does not exist."""
    secret = await objects.get(SECRETS, WEBHOOK_SERVING_SECRET, sandbox.options.namespace)
    data = (secret or {}).get("data") or {}
    if not data.get("tls.crt") or not data.get("tls.key"):
        return False
    sandbox.tls_dir.mkdir(mode=0o700, exist_ok=True)
    for name in ("tls.key", "tls.crt"):  # the key first: the webhook reloads when the certificate changes
        content = base64.b64decode(data[name])
        path = sandbox.tls_dir / name
        if not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)
            path.chmod(0o600)
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


async def _wait(sandbox: Sandbox, what: str, check: Callable[[], Awaitable[bool]], deadline: float) -> None:
    """Poll ``check`` until true; the children must stay up meanwhile."""
    while not await check():
        sandbox.check_children()
        if time.monotonic() > deadline:
            raise SandboxError(f"timed out after {sandbox.options.timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


async def _start_webhook(objects: KubeObjects, sandbox: Sandbox, deadline: float) -> None:
    sandbox.say(
        "waiting for the operator to write the webhook's certificate, then for the webhook to answer and the "
        "operator to register it ..."
    )
    await _wait(
        sandbox,
        "the operator's webhook serving Secret",
        lambda: _copy_serving_secret(objects, sandbox),
        deadline,
    )
    sandbox.children.spawn("webhook", sandbox.webhook_argv())

    async def registered() -> bool:
        validating = await objects.get(VALIDATING_WEBHOOK_CONFIGURATIONS, OPERATOR_WEBHOOK_CONFIG_NAME)
        mutating = await objects.get(MUTATING_WEBHOOK_CONFIGURATIONS, INJECTOR_WEBHOOK_CONFIG_NAME)
        return validating is not None and mutating is not None and _port_open(sandbox.webhook_port)

    await _wait(sandbox, "the webhook configurations and the webhook on its port", registered, deadline)
    sandbox.say(f"webhook serving on https://{LOOPBACK}:{sandbox.webhook_port}, registered by the operator")


async def _apply_examples(objects: KubeObjects, sandbox: Sandbox, chosen: Examples, deadline: float) -> None:
    for note in chosen.notes:
        sandbox.say(f"note: {note}")
    for policy in chosen.policies:
        await objects.apply(SRIOV_NETWORK_NODE_POLICIES, policy, FIELD_MANAGER)
        sandbox.say(
            f"applied SriovNetworkNodePolicy/{policy['metadata']['namespace']}/{policy['metadata']['name']}"
        )
    for network in chosen.networks:
        await objects.apply(SRIOV_NETWORKS, network, FIELD_MANAGER)
        sandbox.say(f"applied SriovNetwork/{network['metadata']['namespace']}/{network['metadata']['name']}")
    last_error: list[str] = []

    async def pod_admitted() -> bool:
        try:
            await objects.create(PODS, chosen.pod)
        except KubeApiError as error:  # the webhook denies it until the operator has written the NADs
            last_error[:] = [str(error)]
            return False
        return True

    try:
        await _wait(sandbox, "the webhook to admit the example pod", pod_admitted, deadline)
    except SandboxError as error:
        raise SandboxError(f"{error}; last answer: {last_error[0] if last_error else 'none'}") from None
    networks = ", ".join(n["metadata"]["name"] for n in chosen.networks)
    sandbox.say(f"created Pod/{WORKLOAD_NAMESPACE}/{POD_NAME} (networks: {networks})")


async def _snapshot(objects: KubeObjects, sandbox: Sandbox, with_examples: bool) -> Snapshot:
    namespace = sandbox.options.namespace
    names = [w.name for w in sandbox.workers]
    nodes = {n["metadata"]["name"]: n for n in (await objects.list(NODES))["items"]}
    states = {
        s["metadata"]["name"]: s for s in (await objects.list(SRIOV_NETWORK_NODE_STATES, namespace))["items"]
    }
    configmaps = {}
    for item in (await objects.list(CONFIG_MAPS, namespace))["items"]:
        configmaps[item["metadata"]["name"]] = item
    policies = []
    pod = None
    if with_examples:
        policies = (await objects.list(SRIOV_NETWORK_NODE_POLICIES, namespace))["items"]
        pod = await objects.get(PODS, POD_NAME, WORKLOAD_NAMESPACE)
    return Snapshot(
        names,
        {n: nodes[n] for n in names if n in nodes},
        {n: states[n] for n in names if n in states},
        {
            n: configmaps[device_plugin_configmap_name(n)]
            for n in names
            if device_plugin_configmap_name(n) in configmaps
        },
        policies,
        pod,
    )


async def _publish_device_plugin_resources(objects: KubeObjects, snapshot: Snapshot, prefix: str) -> None:
    """The device plugin's part: each node's resource counts in its status (see ``device_plugin``)."""
    for name, node in snapshot.nodes.items():
        counts = handed_over_resources(snapshot.configmaps.get(name), snapshot.states.get(name))
        if counts is None:
            continue
        patch = capacity_patch(node, counts, prefix)
        if patch is not None:
            await objects.patch(NODES, name, patch, subresource="status")


def summary(snapshot: Snapshot, sandbox: Sandbox, kubeconfig: Path) -> list[str]:
    options = sandbox.options
    lines = [f"all {len(snapshot.workers)} NodeStates Succeeded in {sandbox.elapsed().strip()}"]
    if snapshot.pod is not None:
        injected = injected_resources(snapshot.pod, options.resource_prefix)
        lines.append(
            f"Pod {WORKLOAD_NAMESPACE}/{POD_NAME}: the webhook injected requests/limits "
            + ", ".join(f"{k}: {v}" for k, v in sorted(injected.items()))
        )
        lines.append(
            f"  kube-scheduler bound it to node {scheduled_node(snapshot.pod)}, which offers them; it stays "
            "Pending (no kubelet runs here)"
        )
    kept = "" if options.workdir else "; removed when the sandbox stops, --workdir DIR keeps them"
    lines.append(f"logs: {sandbox.logs}/ (operator.log, webhook.log, daemon-<node>.log{kept})")
    for worker in sandbox.workers:
        lines.append(f"  {worker.describe()}")
    running = {name: port for name, port in sandbox.health_ports.items() if name in sandbox.children.names()}
    lines.append(
        "metrics (and /healthz, /readyz): "
        + ", ".join(f"{name} http://{LOOPBACK}:{port}/metrics" for name, port in running.items())
    )
    if options.until_synced:
        return [
            *lines,
            "stopping (without --until-synced the sandbox stays up for kubectl: docs/quickstart.md)",
        ]
    return [*lines, "try:", *(f"  {line}" for line in try_commands(snapshot, kubeconfig, running))]


def try_commands(snapshot: Snapshot, kubeconfig: Path, ports: dict[str, int]) -> list[str]:
    """Commands for what exists: the examples' NADs and pod only when they were created."""
    k = f"kubectl --kubeconfig {kubeconfig}"
    commands = [
        f"{k} get sriovnetworknodestates -A",
        f"{k} get sriovnetworknodepolicies -A",
        f"{k} describe node {snapshot.workers[0]}",
    ]
    if snapshot.pod is not None:
        commands += [
            f"{k} get network-attachment-definitions -n {WORKLOAD_NAMESPACE}",
            f"{k} get pod {POD_NAME} -n {WORKLOAD_NAMESPACE} -o jsonpath='{{.spec.containers[0].resources}}'",
            f"sriov-operator why pod {POD_NAME} -n {WORKLOAD_NAMESPACE} --kubeconfig {kubeconfig}",
        ]
    if "operator" in ports:
        commands.append(f"curl -s http://{LOOPBACK}:{ports['operator']}/metrics | grep ^sriov_")
    return commands


async def _start(objects: KubeObjects, sandbox: Sandbox, deadline: float) -> None:
    """Everything after the control plane: API objects, workers, operator, daemons, webhook, examples."""
    options = sandbox.options
    await apply_all(objects, operator_rbac(options.namespace), RBAC_RESOURCES)
    await objects.apply(SRIOV_OPERATOR_CONFIGS, operator_config(options.namespace), FIELD_MANAGER)
    sandbox.say(
        f"CRDs installed; namespace {options.namespace} with the operator's RBAC "
        "(deploy/kustomize/base/rbac.yaml); SriovOperatorConfig default with enableInjector: true"
    )
    workers: list[Worker] = [*sandbox.create_workers(), *sandbox.create_vm_workers()]
    for worker in workers:
        await register_node(objects, worker.node())
        sandbox.say(f"node {worker.describe()}")
    operator_kubeconfig = await service_account_kubeconfig(
        sandbox.plane.kubeconfig,
        options.namespace,
        OPERATOR_SERVICE_ACCOUNT,
        sandbox.directory / "operator.kubeconfig",
    )
    sandbox.children.spawn("operator", sandbox.operator_argv(operator_kubeconfig))
    context = DaemonContext(
        sandbox.plane.kubeconfig, options.namespace, sandbox.children, sandbox.health_ports
    )
    for worker in workers:
        if worker in sandbox.vms:
            sandbox.say(f"booting {worker.describe()} ...")
        worker.start(context)
    sandbox.say(
        f"started the operator (as ServiceAccount {options.namespace}/{OPERATOR_SERVICE_ACCOUNT}) and "
        f"{len(workers)} config daemon{'s' if len(workers) != 1 else ''}; logs in {sandbox.logs}/"
    )
    await _start_webhook(objects, sandbox, deadline)
    if sandbox.examples is not None:
        # the pod's namespace gets its default ServiceAccount from kube-controller-manager
        await _apply_examples(objects, sandbox, sandbox.examples, deadline)


async def _watch(objects: KubeObjects, sandbox: Sandbox, kubeconfig: Path, deadline: float) -> int:
    """Every tick: publish resources, redraw, judge; the summary once converged."""
    options = sandbox.options
    resources: frozenset[str] = frozenset()
    if sandbox.examples is not None:
        resources = frozenset(p["spec"]["resourceName"] for p in sandbox.examples.policies)
    kubelet = KubeletStandIn(objects, options.namespace, [w.name for w in sandbox.workers], sandbox.say)
    converged = False
    while True:
        sandbox.check_children()
        await _copy_serving_secret(objects, sandbox)
        snapshot = await _snapshot(objects, sandbox, options.apply_examples)
        await _publish_device_plugin_resources(objects, snapshot, options.resource_prefix)
        sandbox.display.table(rows(snapshot, options.resource_prefix))
        await kubelet.tick(datetime.now(UTC))  # after the table: what it says goes below the header
        reasons = waiting_for(
            snapshot, resources=resources, expect_pod=options.apply_examples, prefix=options.resource_prefix
        )
        if not reasons and not converged:
            converged = True
            sandbox.display.finish()
            for line in summary(snapshot, sandbox, kubeconfig):
                sandbox.display.say(line)
            if options.until_synced:
                return 0
            sandbox.display.say("press Ctrl-C to stop")
        if options.until_synced and time.monotonic() > deadline:
            raise SandboxError(f"not synced after {options.timeout:.0f}s: " + "; ".join(reasons))
        await asyncio.sleep(TICK_SECONDS)


async def _bare_cluster(sandbox: Sandbox, kubeconfig: Path) -> int:
    """``--control-plane-only``: keep the control plane up until Ctrl-C, checking its processes."""
    for line in (
        "a bare cluster: no CRDs, no operator, no nodes; controllers and scheduler run, no kubelet "
        "(pods are bound to nodes but never run)",
        f"try the install: KUBECONFIG={kubeconfig} and docs/install.md (Helm or kustomize)",
        "press Ctrl-C to stop",
    ):
        sandbox.display.say(line)
    while sandbox.plane.all_running():
        await asyncio.sleep(TICK_SECONDS)
    raise SandboxError(f"a control-plane process exited; logs in {sandbox.plane.workdir}")


async def _run(sandbox: Sandbox) -> int:
    deadline = sandbox.started + sandbox.options.timeout
    kubeconfig = sandbox.start_control_plane()
    if sandbox.options.control_plane_only:
        return await _bare_cluster(sandbox, kubeconfig)
    await install_api(sandbox.plane.kubeconfig)
    async with api_session(sandbox.plane.kubeconfig) as session:
        objects = KubeObjects(session)
        await _start(objects, sandbox, deadline)
        return await _watch(objects, sandbox, kubeconfig, deadline)


def run_sandbox(options: SandboxOptions, display: Display | None = None) -> int:
    """Run until converged (``until_synced``) or until SIGINT/SIGTERM; the exit code.

    Raises :class:`SandboxError` with the reason when a child process exits or
    ``until_synced`` times out; every child process is stopped either way.
    """
    sandbox = Sandbox(options, display or Display())
    failed = True
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # until the loop runs: stop like Ctrl-C

    async def main() -> int:
        """SIGINT/SIGTERM cancel the run wherever it waits (a blocking start-up step finishes first)."""
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await _run(sandbox)
        except asyncio.CancelledError:
            sandbox.display.finish()
            sandbox.say("stopping")
            return 0

    try:
        code = asyncio.run(main())
        failed = code != 0
        return code
    except KeyboardInterrupt:
        failed = False
        sandbox.say("stopping")
        return 0
    finally:
        sandbox.stop(keep_directory=failed)
        if failed and options.workdir is None:
            print(f"sandbox files and logs kept in {sandbox.directory}", file=sys.stderr)
