"""``sriov-operator sandbox --vm-workers 1``: a real-kernel OpenStack VM worker beside a simulated one.

The real command, as a user runs it: control plane, operator, webhook, the seed's
policies and the example pod, one simulated OpenStack worker and one VM worker
(QEMU, the bundle's kernel, its daemon inside).  ``--until-synced`` must exit 0
with both NodeStates Succeeded, the VM's DPDK port on vfio-pci in the table, the
VM's daemon saying so on its console, and the VM gone afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sriov_vmtest.bundle import Bundle
from sriov_vmtest.profiles import DPDK_PORT, pci_address
from tests.support import REPO_ROOT

pytestmark = [pytest.mark.vm, pytest.mark.timeout(1500)]


def test_sandbox_converges_with_a_vm_worker_whose_dpdk_port_is_really_bound(
    vm_bundle: Bundle, tmp_path: Path
) -> None:
    del vm_bundle  # built (or found) before the sandbox looks for it
    workdir = tmp_path / "sandbox"
    argv = [
        sys.executable, "-m", "sriov_operator.cli", "sandbox", "--workers", "1", "--vm-workers", "1",
        "--apply-examples", "--until-synced", "--timeout", "1200", "--workdir", str(workdir),
        "--kubeconfig", str(tmp_path / "kubeconfig"),
    ]  # fmt: skip
    # from the clone: the VM runs the working directory's src/ (sandbox/vm_workers.py)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1400, check=False, cwd=REPO_ROOT)
    output = done.stdout + done.stderr
    console = workdir / "vms/vm-worker-0/console.log"
    lines = console.read_text(errors="replace").splitlines() if console.exists() else []
    console_tail = "\n".join(lines[-30:])
    assert done.returncode == 0, f"{output[-4000:]}\n--- VM console ---\n{console_tail}"
    assert "all 2 NodeStates Succeeded" in output
    rows = [line for line in output.splitlines() if line.startswith("vm-worker-0 ")]
    assert rows and "Succeeded" in rows[-1] and f"{pci_address(DPDK_PORT)}=vfio-pci" in rows[-1], rows
    assert "dpdk1=1" in rows[-1]
    assert "vm-worker-0: OpenStack VM in QEMU" in output
    assert "status Succeeded" in console.read_text(errors="replace")  # the daemon inside the VM said so
    qemu = ["pgrep", "-f", str(workdir / "vms")]
    leftovers = subprocess.run(qemu, capture_output=True, text=True, check=False)
    assert leftovers.stdout == "", f"QEMU still running: {leftovers.stdout}"
