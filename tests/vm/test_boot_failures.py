"""A guest that cannot boot fails loudly, saying why: QEMU's own words or the serial console's tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriov_vmtest.bundle import Bundle
from sriov_vmtest.machine import TestMachine, VmError
from sriov_vmtest.profiles import baremetal_host
from tests.support import REPO_ROOT

pytestmark = pytest.mark.vm


def test_a_kernel_qemu_cannot_load_fails_the_boot_with_qemus_message(
    vm_bundle: Bundle, tmp_path: Path
) -> None:
    broken = tmp_path / "bundle"
    broken.mkdir()
    for name in ("qemu", "initramfs.gz", "root.img", "manifest.json"):
        (broken / name).symlink_to(vm_bundle.path / name)
    (broken / "vmlinuz").write_text("not a kernel\n")
    machine = TestMachine(baremetal_host(viommu=False), Bundle(broken), tmp_path / "run", REPO_ROOT)
    with pytest.raises(VmError) as failure:
        machine.boot()
    message = str(failure.value)
    assert message.startswith("test machine baremetal-noiommu: QEMU exited")
    assert "--- qemu.log" in message and "qemu: linux kernel too old to load a ram disk" in message
