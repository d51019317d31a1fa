"""The pinned recipe of the guest bundle, and where its build lives in the cache.

Everything comes from Debian's archive (bookworm for the kernel and the root,
trixie for QEMU 10, whose ``igb`` device has SR-IOV) and from PyPI (the
project's own dependencies, installed into the root).  The recipe's hash names
the cache directory, so changing anything here builds a new bundle next to the
old one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from sriov_operator.controlplane.binaries import cache_root

# Bump when a build step changes in a way the fields below do not show.
# 2: netdevsim and the vDPA modules built too; 3: drivers/infiniband/{core,sw} kept (soft-RoCE)
BUILD_STEPS_VERSION = "3"
DISTRIBUTION = "sriov-fdp-operator"
GUEST_DIR = Path(__file__).parent / "guest"


@dataclass(frozen=True)
class Suite:
    """One Debian suite, read through a private apt configuration (the machine's is never touched)."""

    name: str
    sources: tuple[str, ...]  # sources.list lines


@dataclass(frozen=True)
class Recipe:
    kernel_suite: Suite
    qemu_suite: Suite
    kernel_meta_package: str  # resolves to linux-image-<abi>-amd64
    kernel_source_package: str
    root_packages: tuple[str, ...]  # debootstrap --include, on top of minbase
    unpacked_packages: tuple[str, ...]  # with what they need, unpacked into the root without their scripts
    qemu_packages: tuple[str, ...]
    initramfs_packages: tuple[str, ...]
    initramfs_modules: tuple[str, ...]  # what the initramfs loads to mount the root and the project share
    python_requirements: tuple[str, ...]  # the project's runtime dependencies, installed into the root

    def digest(self) -> str:
        init = (GUEST_DIR / "initramfs-init").read_text()  # baked into the initramfs
        body = json.dumps({"steps": BUILD_STEPS_VERSION, "init": init, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:12]


MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _suite(name: str, with_security: bool) -> Suite:
    lines = [
        f"deb [signed-by={KEYRING}] {MIRROR} {name} main",
        f"deb [signed-by={KEYRING}] {MIRROR} {name}-updates main",
    ]
    if with_security:
        lines.append(f"deb [signed-by={KEYRING}] {SECURITY_MIRROR} {name}-security main")
    return Suite(name, tuple(lines))


def project_requirements() -> tuple[str, ...]:
    """The installed distribution's runtime requirements (no extras), as pip specifiers."""
    requires = metadata.requires(DISTRIBUTION) or []
    return tuple(sorted(r for r in requires if "extra ==" not in r))


def default_recipe() -> Recipe:
    return Recipe(
        kernel_suite=_suite("bookworm", with_security=True),
        qemu_suite=_suite("trixie", with_security=False),
        kernel_meta_package="linux-image-amd64",
        kernel_source_package="linux-source-6.1",
        # udev and D-Bus for NetworkManager, which is unpacked (build.py), as Open vSwitch is (ovsdb-server,
        # ovs-vswitchd, ovs-vsctl; the kernel has openvswitch.ko); started on demand by guest/services.sh,
        # never at boot
        root_packages=("python3", "kmod", "iproute2", "ethtool", "udev", "dbus"),
        unpacked_packages=("network-manager", "openvswitch-switch"),
        qemu_packages=("qemu-system-x86", "qemu-utils"),  # qemu-img: disks that outlive QEMU
        initramfs_packages=("busybox-static",),
        initramfs_modules=("virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "9pnet_virtio", "9p"),
        python_requirements=project_requirements(),
    )


def bundle_dir(recipe: Recipe) -> Path:
    return cache_root() / "vm" / recipe.digest()
