"""Helpers of the VM tests: scenarios on a booted machine, Nova's metadata service on 127.0.0.1, and the
operator beside the suite's API server for VM workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sriov_operator.errors import SriovOperatorError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import NODES, SERVICE_ACCOUNTS, Resource
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import GuestResult, MachineSpec, TestMachine
from sriov_vmtest.worker import VmWorker
from tests.support import REPO_ROOT, control_plane_report

GUEST_TOOLS = "/vmtest"  # the toolkit's guest scripts, shared into every guest (machine.py)
DAEMON_ACCOUNT = "sriov-network-config-daemon"  # created, with its RBAC, by the operator


@dataclass
class Scenario:
    """One booted machine running named steps; every step's result is kept for the tests."""

    vm: TestMachine
    results: dict[str, GuestResult] = field(default_factory=dict)

    def run(self, step: str, argv: list[str], *, input: str = "", timeout: float = 300.0) -> GuestResult:
        result = self.vm.run(argv, input=input, timeout=timeout)
        self.results[step] = result
        return result

    def restart(self, step: str, drop: tuple[str, ...] = ()) -> GuestResult:
        """Reboot the guest as its boot loader would, into what its boot entry says (less ``drop``: arguments
        the boot loses on purpose); the step's result has the command line booted and the time it took."""
        started = time.monotonic()
        try:
            self.vm.restart_from_boot_entry(drop)
        except SriovOperatorError as error:
            pytest.fail(str(error), pytrace=False)
        cmdline = self.vm.command_line or ""
        result = GuestResult(["(restart)", *drop], 0, cmdline, "", round(time.monotonic() - started, 1))
        self.results[step] = result
        return result

    def shell(self, step: str, script: str) -> GuestResult:
        return self.run(step, ["sh", "-c", script])

    def write(self, path: str, text: str) -> None:
        result = self.vm.run(["sh", "-c", f"cat > {path}"], input=text)
        assert result.returncode == 0, str(result)

    def __getitem__(self, step: str) -> GuestResult:
        if step not in self.results:
            pytest.fail(f"step {step!r} did not run (an earlier step of the scenario failed)", pytrace=False)
        return self.results[step]

    def report(self) -> None:
        steps = ", ".join(f"{name} {result.seconds:.1f}s" for name, result in self.results.items())
        control_plane_report.append(
            f"VM {self.vm.spec.name} ({self.vm.accel}, kernel {self.vm.kernel_release}): "
            f"booted in {self.vm.boot_seconds:.1f}s; {steps}"
        )


@contextlib.contextmanager
def booted(spec: MachineSpec, bundle: Bundle, accel: str, run_dir: Path) -> Iterator[TestMachine]:
    machine = TestMachine(spec, bundle, run_dir, REPO_ROOT, accel=accel)
    try:
        machine.boot()
    except SriovOperatorError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield machine
    finally:
        machine.stop()


@dataclass
class MetadataService:
    """Nova's metadata service as static files, served on 127.0.0.1 (reached from the guest by relay)."""

    port: int
    hits: list[str]


@contextlib.contextmanager
def metadata_service(documents: dict[str, object], root: Path) -> Iterator[MetadataService]:
    """``documents``: path under the service (``openstack/2018-08-27/meta_data.json``) -> JSON body."""
    for path, body in documents.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(json.dumps(body))
    hits: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            del format, args
            hits.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield MetadataService(int(server.server_address[1]), hits)
    finally:
        server.shutdown()
        server.server_close()


async def daemon_token(objects: KubeObjects, namespace: str) -> str:
    """A token of the config daemon's ServiceAccount, once the operator has created it."""
    deadline = time.monotonic() + 120
    while await objects.get(SERVICE_ACCOUNTS, DAEMON_ACCOUNT, namespace) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"the operator did not create ServiceAccount {DAEMON_ACCOUNT} within 120 s")
        await asyncio.sleep(0.5)
    answer = await objects.create(
        Resource("", "v1", f"serviceaccounts/{DAEMON_ACCOUNT}/token", "TokenRequest", namespaced=True),
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 7200},
        },
        namespace=namespace,
    )
    return str(answer["status"]["token"])


async def stop_worker_and_operator(
    worker: VmWorker | None, operator: subprocess.Popen[bytes], objects: KubeObjects, node: str
) -> None:
    """End a VM worker test: the VM, the operator, and the worker's Node."""
    if worker is not None:
        worker.stop()
    operator.terminate()
    operator.wait(timeout=30)
    await objects.delete(NODES, node)
