"""The simulated kernel is as crash-consistent as a kernel: a write happened or it did not.

A daemon killed with -9 during ``setNumVfs`` (6 -> 8) never converged after its
restart: the VFs were gone from the tree while ``.simulator/kernel.json`` still
listed them (``sriov_numvfs: No such file or directory``). Here the host layer's
apply (what the config daemon runs) is killed at every kernel write of a
bare-metal plan, early in the write and just before it commits, and a restart
must converge to exactly what an uninterrupted apply gives.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from sriov_operator.cli import main
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.journal import FAULTS_FILE, JOURNAL_FILE
from sriov_operator.host.simulator.kernel import SimulatedKernel

PF = "0000:3b:00.0"
SPEC: dict[str, Any] = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovNetworkNodeState",
    "metadata": {"name": "worker-0", "namespace": "sriov-network-operator"},
    "spec": {
        "interfaces": [
            {
                "pciAddress": PF,
                "name": "ens1f0",
                "numVfs": 8,
                "mtu": 9000,
                "vfGroups": [
                    {"resourceName": "net", "deviceType": "netdevice", "vfRange": "0-3", "mtu": 9000},
                    {"resourceName": "dpdk", "deviceType": "vfio-pci", "vfRange": "4-7"},
                ],
            }
        ]
    },
}
MANY = 10**6


def _run(argv: list[str]) -> int:
    """``sriov-operator <argv>`` in a forked child (it may kill itself); its exit code, or -signal."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 70
        try:
            with (
                open(os.devnull, "w") as null,
                contextlib.redirect_stdout(null),
                contextlib.redirect_stderr(null),
            ):
                code = main(argv)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


IGNORED = (
    "lock",
    "faults.json",
    # apply sets the override, binds, then clears it: killed between bind and clear, the override
    # stays, on a real kernel too, and the restart finds the driver right and has nothing to do.
    # The override names the driver the device has, so it changes nothing until the next restore,
    # which clears it first.
    "driver_override",
)


def _tree(root: Path) -> dict[str, str]:
    """Every file and link of the host (the kernel's and the daemon's own), with its content."""
    tree = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.name in IGNORED:
            continue
        if path.is_symlink():
            tree[name] = "-> " + os.readlink(path)
        elif path.is_file():
            tree[name] = path.read_text()
        else:
            tree[name] = "/"
    return tree


def _with_faults(root: Path, faults: dict[str, int]) -> None:
    (root / FAULTS_FILE).write_text(json.dumps(faults))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare-metal host already at 6 VFs (the reported crash was 6 -> 8), and the spec file."""
    base = tmp_path_factory.mktemp("crash")
    root = base / "host"
    create_host(load_profile("baremetal-intel"), root)
    with SimulatedKernel.transaction(root) as kernel:
        kernel.set_numvfs(PF, 6)
    (base / "state.yaml").write_text(yaml.safe_dump(SPEC))
    return root


def _apply(root: Path) -> list[str]:
    return ["apply", "--host-root", str(root), "--simulate", "--state", str(root.parent / "state.yaml")]


def _fresh(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "host"
    shutil.copytree(pristine, root, symlinks=True)
    shutil.copy(pristine.parent / "state.yaml", tmp_path / "state.yaml")
    return root


def test_killed_at_every_kernel_write_a_restart_converges(pristine: Path, tmp_path: Path) -> None:
    reference = _fresh(pristine, tmp_path / "reference")
    _with_faults(reference, {"killInTransaction": MANY})
    assert _run(_apply(reference)) == 0
    writes = MANY - json.loads((reference / FAULTS_FILE).read_text())["killInTransaction"]
    assert writes >= 10  # 6 -> 0 -> 8 VFs, drivers, MTUs: a plan with many kernel writes
    (reference / FAULTS_FILE).unlink()
    converged = _tree(reference)
    assert (reference / "sys/bus/pci/devices" / PF / "sriov_numvfs").read_text() == "8\n"

    for write in range(1, writes + 1):
        # odd writes die early in the write, even ones after all of it, just before it commits
        after_changes = 1 if write % 2 else MANY
        root = _fresh(pristine, tmp_path / f"write-{write}")
        _with_faults(root, {"killInTransaction": write, "afterChanges": after_changes})
        assert _run(_apply(root)) == -signal.SIGKILL, write
        assert (root / JOURNAL_FILE).is_file()  # it died mid-write
        assert _run(_apply(root)) == 0, write  # the restarted daemon's apply
        assert _tree(root) == converged, write
        shutil.rmtree(root.parent)


def test_a_write_the_kernel_refuses_half_way_changes_nothing(pristine: Path, tmp_path: Path) -> None:
    root = _fresh(pristine, tmp_path)
    before = _tree(root)
    with pytest.raises(OSError), SimulatedKernel.transaction(root) as kernel:
        kernel.set_numvfs(PF, 0)
        kernel.set_numvfs(PF, 1000)  # ERANGE after the VFs are gone
    assert _tree(root) == before
