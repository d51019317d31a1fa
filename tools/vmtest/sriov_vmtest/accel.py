"""KVM when it really boots a kernel, else TCG.

On some machines ``/dev/kvm`` exists, accepts ioctls and even runs a few
real-mode instructions, yet a Linux guest hangs with no output.  So the probe
boots the bundle's kernel under KVM without a root file system: a working KVM
reaches the kernel's "cannot mount root" panic in a second or two, and QEMU
(``-no-reboot``) exits.  Anything else within the time limit means TCG.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Literal

from sriov_vmtest.machine import isolated, kernel_boot

Accel = Literal["kvm", "tcg"]
PROBE_TIMEOUT_SECONDS = 20.0
PANIC = b"Kernel panic"


def kvm_works(qemu: list[str], kernel: Path, work: Path) -> bool:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    console = work / "kvm-probe.log"
    boot = kernel_boot("kvm", 256, kernel, "console=ttyS0 panic=-1")
    argv = isolated([*qemu, *boot, "-serial", f"file:{console}"])
    try:
        subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return False
    return console.exists() and PANIC in console.read_bytes()


def choose_accel(qemu: list[str], kernel: Path, work: Path) -> Accel:
    return "kvm" if kvm_works(qemu, kernel, work) else "tcg"
