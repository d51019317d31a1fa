"""Build the guest bundle into the cache: kernel, initramfs, root image, vfio with no-IOMMU, QEMU 10.

Steps (the two halves run in parallel):

- root: ``debootstrap --variant=minbase`` of bookworm with python3, kmod and
  iproute2; the project's Python dependencies from PyPI (``pip --target``,
  wheels only); the Debian kernel's modules; vfio rebuilt with
  ``CONFIG_VFIO_NOIOMMU`` in ``updates/``, with netdevsim and the vDPA modules
  (simulator included) that Debian leaves out; both module tables (stock and
  no-IOMMU vfio) kept so a guest can switch; NetworkManager and Open vSwitch unpacked into it
  (`_unpack_packages`); then an ext4 image (``mke2fs -d``).
- kernel side: the kernel, its headers and source from Debian; ``drivers/vfio``,
  netdevsim and vDPA built out of tree; an initramfs (busybox-static plus the modules that mount
  the root disk and the 9p project share).
- QEMU: trixie's ``qemu-system-x86`` and every library it needs, extracted with
  ``dpkg-deb -x`` and run with that tree's own loader (no install).

The build happens in a temporary directory next to the cache entry and is
renamed into place when complete; a file lock keeps two builders apart.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.errors import HostError
from sriov_vmtest.apt import PrivateApt
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.cpio import write_newc
from sriov_vmtest.kmod import load_order
from sriov_vmtest.recipe import GUEST_DIR, MIRROR, Recipe, bundle_dir

log = logging.getLogger(__name__)

GUEST_SITE_PACKAGES = "opt/sriov-operator/site-packages"
GUEST_PYTHON = "3.11"  # bookworm's python3
WHEEL_PLATFORMS = (
    "manylinux_2_36_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
)
VFIO_MODULE_VARIANTS = "variants"  # lib/modules/<abi>/variants/{stock,noiommu}/modules.*
# Module trees a test guest never loads: left out of the image to keep it small.
UNUSED_MODULE_TREES = (
    "kernel/sound",
    "kernel/drivers/gpu",
    "kernel/drivers/media",
    "kernel/drivers/infiniband/hw",  # core and sw (rdma_rxe, soft-RoCE) stay: the RDMA tests use them
    "kernel/drivers/infiniband/ulp",
    "kernel/drivers/staging",
    "kernel/drivers/net/wireless",
    "kernel/drivers/bluetooth",
    "kernel/drivers/iio",
    "kernel/drivers/usb",
    "kernel/drivers/hid",
    "kernel/drivers/input",
    "kernel/drivers/isdn",
    "kernel/drivers/video",
    "kernel/drivers/mmc",
    "kernel/net/wireless",
    "kernel/net/mac80211",
    "kernel/net/bluetooth",
    "kernel/drivers/net/can",
    "kernel/drivers/net/usb",
    "kernel/drivers/scsi/qla2xxx",
    "kernel/drivers/scsi/lpfc",
    "kernel/drivers/net/ethernet/mellanox",
    "kernel/drivers/net/ethernet/chelsio",
    "kernel/drivers/net/ethernet/qlogic",
    "kernel/drivers/net/ethernet/broadcom",
    "kernel/fs/xfs",
    "kernel/fs/btrfs",
    "kernel/fs/ocfs2",
    "kernel/fs/nfs",
    "kernel/fs/ceph",
    "kernel/fs/smb",
)
UNUSED_ROOT_TREES = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
    "usr/share/info",
    "var/cache/apt",
    "var/lib/apt/lists",
)


NOT_UNPACKED = ("polkitd",)  # needed by an unpacked package, but not by the way the guest runs it


class BuildError(HostError):
    """A build step failed; the message names the step and quotes its output."""


def _run(
    step: str, argv: list[str], logfile: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    with logfile.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(
            ["nice", "-n", "19", *argv], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        tail = " / ".join(logfile.read_text(errors="replace").strip().splitlines()[-6:])
        raise BuildError(f"{step}: {argv[0]} failed (exit {result.returncode}); log {logfile}: {tail}")


def _extract(deb: Path, into: Path, logfile: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    _run(f"extract {deb.name}", ["dpkg-deb", "-x", str(deb), str(into)], logfile)


@dataclass(frozen=True)
class KernelPackages:
    abi: str  # 6.1.0-56-amd64
    image: Path
    headers: list[Path]
    source: Path
    busybox: Path
    versions: dict[str, str]


def _fetch_kernel(recipe: Recipe, work: Path) -> KernelPackages:
    apt = PrivateApt(recipe.kernel_suite, work / "apt-kernel")
    apt.update()
    image = apt.resolve_meta(recipe.kernel_meta_package)
    abi = image.removeprefix("linux-image-")
    headers = [f"linux-headers-{abi}"]
    headers += [d for d in apt.dependencies(headers[0]) if d.startswith(("linux-headers-", "linux-kbuild-"))]
    names = [image, *headers, recipe.kernel_source_package, *recipe.initramfs_packages]
    pinned = [(name, apt.version(name)) for name in names]
    debs = apt.download(pinned, work / "debs-kernel")
    return KernelPackages(
        abi=abi,
        image=debs[0],
        headers=debs[1 : 1 + len(headers)],
        source=debs[1 + len(headers)],
        busybox=debs[-1],
        versions=dict(pinned),
    )


# Source directories of the Debian kernel the guest modules are built from (one pass over the tarball).
SOURCE_DIRS = ("drivers/vfio", "drivers/net/netdevsim", "drivers/vdpa", "drivers/vhost", "drivers/virtio")
# The vDPA core, its simulator and both bus drivers: Debian's 6.1 has CONFIG_VDPA off, so none of them
# exists, and vdpa_sim needs vringh (CONFIG_VHOST_RING, off too). source file -> module it becomes.
VDPA_SOURCES = {
    "drivers/vdpa/vdpa.c": "vdpa",
    "drivers/vhost/vringh.c": "vringh",
    "drivers/vdpa/vdpa_sim/vdpa_sim.c": "vdpa_sim",
    "drivers/vdpa/vdpa_sim/vdpa_sim_net.c": "vdpa_sim_net",
    "drivers/virtio/virtio_vdpa.c": "virtio_vdpa",
    "drivers/vhost/vdpa.c": "vhost_vdpa",
}
VDPA_HEADERS = ("drivers/vdpa/vdpa_sim/vdpa_sim.h", "drivers/vhost/vhost.h")


@dataclass(frozen=True)
class KernelTree:
    headers: Path  # linux-headers-<abi>, made to work from where it was unpacked
    source: Path  # the parts of linux-source-6.1 in SOURCE_DIRS


def _kernel_tree(kernel: KernelPackages, work: Path, logfile: Path) -> KernelTree:
    tree = work / "kernel-tree"
    for deb in kernel.headers:
        _extract(deb, tree, logfile)
    headers = tree / "usr/src" / f"linux-headers-{kernel.abi}"
    makefile = headers / "Makefile"
    makefile.write_text(makefile.read_text().replace("/usr/src/", f"{tree}/usr/src/"))
    source = work / "kernel-source"
    source.mkdir()
    tarball = f"./usr/src/{kernel.source.name.split('_')[0]}.tar.xz"
    wanted = " ".join(f"'*/{d}'" for d in SOURCE_DIRS)
    pipeline = (
        f"dpkg-deb --fsys-tarfile '{kernel.source}' | tar -xO '{tarball}' "
        f"| tar -xJ -C '{source}' --wildcards {wanted}"
    )
    _run("unpack the kernel's drivers", ["sh", "-c", pipeline], logfile)
    return KernelTree(headers, next(source.glob("*/drivers")).parent)


def _make_modules(step: str, tree: KernelTree, directory: Path, logfile: Path, *options: str) -> list[Path]:
    _run(step, ["make", "-C", str(tree.headers), f"M={directory}", "-j2", "modules", *options], logfile)
    return sorted(directory.rglob("*.ko"))


def _build_vfio(tree: KernelTree, logfile: Path) -> list[Path]:
    """``drivers/vfio`` of the Debian kernel's source, built against its headers with CONFIG_VFIO_NOIOMMU."""
    return _make_modules(
        "build vfio with no-IOMMU",
        tree,
        tree.source / "drivers/vfio",
        logfile,
        # the options Debian leaves off, and the vendor drivers we do not need
        "KCFLAGS=-DCONFIG_VFIO_NOIOMMU=1",
        "CONFIG_VFIO_NOIOMMU=y",
        "CONFIG_MLX5_VFIO_PCI=",
        "CONFIG_HISI_ACC_VFIO_PCI=",
        "CONFIG_VFIO_MDEV=",
    )


def _build_netdevsim(tree: KernelTree, logfile: Path) -> list[Path]:
    """netdevsim (devlink, eSwitch switchdev, VFs and their representors, ethtool features), off in Debian."""
    directory = tree.source / "drivers/net/netdevsim"
    return _make_modules("build netdevsim", tree, directory, logfile, "CONFIG_NETDEVSIM=m")


def _build_vdpa(tree: KernelTree, work: Path, logfile: Path) -> list[Path]:
    """The vDPA modules in one out-of-tree directory (``VDPA_SOURCES``), so they link against each other."""
    directory = work / "vdpa-modules"
    directory.mkdir()
    objects = []
    for source, module in VDPA_SOURCES.items():
        name = Path(source).name if module != "vhost_vdpa" else "vhost_vdpa_main.c"  # vdpa.c twice
        shutil.copy(tree.source / source, directory / name)
        objects.append(f"{module}.o")
    for header in VDPA_HEADERS:
        shutil.copy(tree.source / header, directory / Path(header).name)
    kbuild = f"obj-m += {' '.join(objects)}\nvhost_vdpa-y := vhost_vdpa_main.o\n"
    (directory / "Kbuild").write_text(kbuild)
    return _make_modules("build the vDPA modules", tree, directory, logfile)


def _build_modules(kernel: KernelPackages, work: Path, logfile: Path) -> dict[str, list[Path]]:
    """Modules the guest needs and Debian's kernel lacks: directory under ``updates/`` -> its modules."""
    tree = _kernel_tree(kernel, work, logfile)
    return {
        "vfio": _build_vfio(tree, logfile),
        "netdevsim": _build_netdevsim(tree, logfile),
        "vdpa": _build_vdpa(tree, work, logfile),
    }


def _debootstrap(recipe: Recipe, root: Path, logfile: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise BuildError("no debootstrap on PATH: apt-get install debootstrap (scripts/test does)")
    include = ",".join(recipe.root_packages)
    _run(
        "debootstrap the root",
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={include}",
            recipe.kernel_suite.name,
            str(root),
            MIRROR,
        ],
        logfile,
    )
    for tree in UNUSED_ROOT_TREES:
        shutil.rmtree(root / tree, ignore_errors=True)
    (root / "project").mkdir(exist_ok=True)  # mount points of the 9p shares
    (root / "vmtest").mkdir(exist_ok=True)


def _unpack_packages(recipe: Recipe, root: Path, work: Path, logfile: Path) -> dict[str, str]:
    """``recipe.unpacked_packages`` and what they need beyond the root, ``dpkg --unpack``ed in the root.

    Unpacked, not configured: NetworkManager's dependency on polkit (which needs logind, so systemd)
    cannot be installed in a minbase root; the guest runs it with ``auth-polkit=false`` instead, so
    polkitd is counted as present (`NOT_UNPACKED`) and no maintainer script runs.  Open vSwitch's
    scripts would start its services in the build's chroot; the guest starts them itself
    (``guest/services.sh ovs``) on a database it creates.
    """
    apt = PrivateApt(recipe.kernel_suite, work / "apt-root")
    status = (root / "var/lib/dpkg/status").read_text()
    stanzas = "".join(
        f"\nPackage: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 999\n"
        for name in NOT_UNPACKED
    )
    apt.home.mkdir(parents=True, exist_ok=True)
    (apt.home / "status").write_text(status.rstrip("\n") + "\n" + stanzas)
    apt.update()
    pinned = apt.closure(list(recipe.unpacked_packages))
    debs = apt.download(pinned, root / "tmp/unpack")
    inside = [f"/tmp/unpack/{deb.name}" for deb in debs]
    _run("unpack the extra packages", ["chroot", str(root), "dpkg", "--unpack", *inside], logfile)
    _run("ldconfig", ["chroot", str(root), "/sbin/ldconfig"], logfile)
    shutil.rmtree(root / "tmp/unpack")
    for tree in UNUSED_ROOT_TREES:
        shutil.rmtree(root / tree, ignore_errors=True)
    return dict(pinned)


def _download_python_requirements(recipe: Recipe, target: Path, logfile: Path) -> None:
    """The project's runtime dependencies as wheels for the guest's python (bookworm's 3.11)."""
    platforms = [arg for platform in WHEEL_PLATFORMS for arg in ("--platform", platform)]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    wheels = ["--only-binary=:all:", "--python-version", GUEST_PYTHON, "--implementation", "cp", *platforms]
    _run(
        "install the project's Python dependencies",
        [*pip, "--target", str(target), *wheels, *recipe.python_requirements],
        logfile,
    )


def _compile_python_requirements(root: Path, logfile: Path) -> None:
    """Byte-compile with the guest's own python: under TCG every compile at import time is slow."""
    compileall = ["/usr/bin/python3", "-m", "compileall", "-q", f"/{GUEST_SITE_PACKAGES}"]
    _run("compile the Python dependencies", ["chroot", str(root), *compileall], logfile)


def _install_kernel(
    kernel: KernelPackages, built: dict[str, list[Path]], root: Path, work: Path, logfile: Path
) -> Path:
    """The kernel's modules into the root (and what `_build_modules` built into updates/); the kernel."""
    unpacked = work / "kernel-image"  # not straight into the root: tar would replace its /lib -> usr/lib link
    _extract(kernel.image, unpacked, logfile)
    modules = root / "lib/modules" / kernel.abi
    modules.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(unpacked / "lib/modules" / kernel.abi, modules)
    for tree in UNUSED_MODULE_TREES:
        shutil.rmtree(modules / tree, ignore_errors=True)
    variants = modules / VFIO_MODULE_VARIANTS
    _depmod(root, kernel.abi, variants / "stock", logfile)
    for directory, built_modules in built.items():
        updates = modules / "updates" / directory
        updates.mkdir(parents=True)
        for module in built_modules:
            shutil.copy(module, updates / module.name)
    _depmod(root, kernel.abi, variants / "noiommu", logfile)  # updates/ wins: this table is the default
    return unpacked / "boot" / f"vmlinuz-{kernel.abi}"


def _depmod(root: Path, abi: str, keep: Path, logfile: Path) -> None:
    _run("depmod", ["chroot", str(root), "/sbin/depmod", abi], logfile)
    keep.mkdir(parents=True)
    for table in (root / "lib/modules" / abi).glob("modules.*"):
        shutil.copy(table, keep / table.name)


def _initramfs(
    kernel: KernelPackages, recipe: Recipe, root: Path, *, out: Path, work: Path, logfile: Path
) -> None:
    tree = work / "initramfs"
    busybox = work / "busybox"
    _extract(kernel.busybox, busybox, logfile)
    (tree / "bin").mkdir(parents=True)
    shutil.copy(busybox / "bin/busybox", tree / "bin/busybox")
    shutil.copy(GUEST_DIR / "initramfs-init", tree / "init")
    (tree / "init").chmod(0o755)
    modules = root / "lib/modules" / kernel.abi
    order = load_order(
        (modules / "modules.dep").read_text(),
        (modules / "modules.builtin").read_text(),
        list(recipe.initramfs_modules),
    )
    (tree / "modules").mkdir()
    for path in order:
        shutil.copy(modules / path, tree / "modules" / Path(path).name)
    (tree / "modules/order").write_text("".join(Path(path).name + "\n" for path in order))
    with gzip.open(out / "initramfs.gz", "wb", compresslevel=6) as stream:
        write_newc(tree, stream)


def _root_image(root: Path, out: Path, logfile: Path) -> None:
    used = sum(p.lstat().st_size for p in root.rglob("*"))
    size_mib = int(used * 1.3 / 2**20) + 96
    _run(
        "make the root image",
        [
            "mke2fs",
            "-q",
            "-t",
            "ext4",
            "-L",
            "sriov-root",
            "-d",
            str(root),
            "-F",
            str(out / "root.img"),
            f"{size_mib}M",
        ],
        logfile,
    )


def _qemu(recipe: Recipe, out: Path, work: Path, logfile: Path) -> dict[str, str]:
    apt = PrivateApt(recipe.qemu_suite, work / "apt-qemu")
    apt.update()
    pinned = apt.closure(list(recipe.qemu_packages))
    for deb in apt.download(pinned, work / "debs-qemu"):
        _extract(deb, out / "qemu", logfile)
    return dict(pinned)


def build(recipe: Recipe, target: Path) -> None:
    """Build the bundle into ``target`` (atomically: a failed build leaves nothing there)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    out, root, logfile = work / "out", work / "root", work / "build.log"
    out.mkdir()
    started = time.monotonic()
    timings: dict[str, float] = {}

    def timed(name: str, step: Callable[[], object]) -> None:
        begin = time.monotonic()
        step()
        timings[name] = round(time.monotonic() - begin, 1)
        log.info("%s: %.0f s", name, timings[name])

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            rooted = pool.submit(timed, "debootstrap", lambda: _debootstrap(recipe, root, logfile))
            wheels = work / "site-packages"
            timed("python", lambda: _download_python_requirements(recipe, wheels, logfile))
            kernel = _fetch_kernel(recipe, work)
            built: dict[str, list[Path]] = {}
            timed("modules", lambda: built.update(_build_modules(kernel, work, logfile)))
            qemu_versions: dict[str, str] = {}
            timed("qemu", lambda: qemu_versions.update(_qemu(recipe, out, work, logfile)))
            rooted.result()
        unpacked: dict[str, str] = {}
        timed("unpack", lambda: unpacked.update(_unpack_packages(recipe, root, work, logfile)))
        (root / GUEST_SITE_PACKAGES).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(wheels, root / GUEST_SITE_PACKAGES)
        timed("compile", lambda: _compile_python_requirements(root, logfile))
        timed(
            "kernel",
            lambda: shutil.move(_install_kernel(kernel, built, root, work, logfile), out / "vmlinuz"),
        )
        timed("initramfs", lambda: _initramfs(kernel, recipe, root, out=out, work=work, logfile=logfile))
        timed("image", lambda: _root_image(root, out, logfile))
        manifest = {
            "recipe": recipe.digest(),
            "kernelRelease": kernel.abi,
            "kernelPackages": kernel.versions,
            "qemuPackages": qemu_versions,
            "unpackedPackages": unpacked,
            "stepSeconds": timings,
            "buildSeconds": round(time.monotonic() - started, 1),
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.copy(logfile, out / "build.log")
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
        log.info("built the VM bundle in %.0f s into %s", time.monotonic() - started, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_bundle(recipe: Recipe) -> Bundle:
    """The cached bundle for ``recipe``, built first if missing (waits for a build in progress)."""
    target = bundle_dir(recipe)
    if not (target / "manifest.json").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with (target.parent / f"{target.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / "manifest.json").exists():
                build(recipe, target)
    return Bundle(target)
