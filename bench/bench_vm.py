"""VM benchmark: the bundle's build time and size, boot time, and SR-IOV work inside a guest.

Run: ``python bench/bench_vm.py`` (builds the bundle first if it is missing).  Prints
Markdown rows for bench/RESULTS.md (section "VM tests").  Per-test (per-step) times come
from the VM tests' own summary lines (``pytest -m vm``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from sriov_vmtest.accel import choose_accel
from sriov_vmtest.build import ensure_bundle
from sriov_vmtest.machine import TestMachine
from sriov_vmtest.profiles import IGB_PF_ADDRESS, baremetal_host
from sriov_vmtest.recipe import default_recipe

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    bundle = ensure_bundle(default_recipe())
    manifest = bundle.manifest
    size = sum(path.lstat().st_size for path in bundle.path.rglob("*"))
    used = sum(path.lstat().st_blocks * 512 for path in bundle.path.rglob("*"))
    print(f"| first build (wall) | {manifest['buildSeconds']:.0f} s | steps: {manifest['stepSeconds']} |")
    print(f"| bundle size | {size / 2**20:.0f} MiB apparent, {used / 2**20:.0f} MiB on disk | |")
    for viommu in (False, True):
        spec = baremetal_host(viommu)
        with tempfile.TemporaryDirectory() as run_dir:
            accel = choose_accel(bundle.qemu_command(), bundle.kernel, Path(run_dir))
            with TestMachine(spec, bundle, Path(run_dir), REPO, accel=accel).boot() as vm:
                if not viommu:
                    vm.run(["modprobe", "vfio", "enable_unsafe_noiommu_mode=1"])
                result = vm.run(["python3", "/project/bench/vm_guest_sriov.py", IGB_PF_ADDRESS])
                times = json.loads(result.stdout) if result.returncode == 0 else {"error": result.stderr}
                print(f"| {spec.name} ({accel}) boot to agent | {vm.boot_seconds:.1f} s | |")
                print(f"| {spec.name} sriov_numvfs 0->3, modprobe vfio_pci, bind 3 VFs, 3->0 | {times} | |")


if __name__ == "__main__":
    main()
