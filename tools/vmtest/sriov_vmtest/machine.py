"""Describe a test machine, turn it into a QEMU command line, boot it and talk to its agent.

QEMU always runs inside ``unshare --net`` with ``nice -n 19`` and a user network
with ``restrict=on``: nothing the guest sends can leave this machine.  The root
disk is the bundle's image with ``snapshot=on`` (writes are thrown away), the
project's checkout (given explicitly, see `checkout`) and this package's guest
scripts (its package data, ``guest/``) are shared read-only over 9p, and the
guest's agent answers on a virtio-serial port (`GuestAgent`).  A machine that
``reboots`` writes to a qcow2 overlay of its own in the run directory instead,
so what the guest wrote outlives a reboot and a restart of QEMU (`TestMachine.restart`,
with the command line its boot entry was given: the boot loader's part).
"""

from __future__ import annotations

import compileall
import contextlib
import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

from sriov_operator.controlplane.process import die_with_parent
from sriov_operator.errors import BadInputError, HostError
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.recipe import GUEST_DIR

log = logging.getLogger(__name__)

GUEST_TOOLS = "/vmtest"  # where the guest mounts GUEST_DIR (9p tag "vmtest"): init.sh, agent.py, probes
METADATA_ADDRESS = "169.254.169.254"
USER_NETWORK = "169.254.0.0/16"
GUEST_MANAGEMENT_ADDRESS = "169.254.0.15"  # what guest/init.sh gives the management port
AGENT_PORT = "sriov.agent"
DISK_OVERLAY = "disk.qcow2"  # in the run directory of a machine that reboots
BOOT_ENTRY = "/boot/loader/entries/vmtest.conf"  # the guest's BLS entry (install_boot_entry)
REBOOT_REQUESTED = "/run/vmtest/reboot-requested"  # written by the guest's systemctl (init.sh) on a reboot
CONSOLE_TAIL_LINES = 40


class VmError(HostError):
    """A test machine failed to boot or its agent stopped answering; the message has the console's tail."""


def checkout(path: Path, what: str) -> Path:
    """``path`` if it is a checkout of this project (its ``src/`` is what a guest runs, shared over 9p).

    ``what`` names where the path came from (an option, the working directory) for the error.
    """
    root = path.resolve()
    if not (root / "src/sriov_operator/__init__.py").is_file():
        raise BadInputError(
            f"{what}: {root} is not a checkout of this project (no src/sriov_operator/); "
            "test machines run the project from a clone, shared into the guest: give the clone's directory"
        )
    return root


@dataclass(frozen=True)
class Nic:
    model: Literal["virtio-net-pci", "igb"]
    mac: str
    slot: int  # PCI slot on the root bus (virtio) or of the PCIe root port in front of it (igb)
    management: bool = False  # on QEMU's user network, where the metadata service answers


@dataclass(frozen=True)
class GuestForward:
    """A TCP address on the guest's user network whose connections reach ``socket`` (see relay.py)."""

    address: str
    port: int
    socket: Path


@dataclass(frozen=True)
class MachineSpec:
    name: str
    nics: tuple[Nic, ...]
    config_drive: Path | None = None
    forwards: tuple[GuestForward, ...] = ()  # on the management port's user network
    viommu: bool = False
    smbios_vendor: str | None = None  # "OpenStack Foundation" makes the guest an OpenStack VM
    smbios_product: str | None = None
    memory_mib: int = 512
    reboots: bool = False  # a guest reboot resets the machine (the disk overlay stays) instead of ending QEMU
    iommu_arg: bool = True  # with a vIOMMU: intel_iommu=on on the first boot's command line
    kernel_args: tuple[str, ...] = ()  # more arguments on the first boot's command line
    cpu_vendor: str | None = None  # CPUID's vendor (TCG's ``max`` CPU says AuthenticAMD)


def _netdev(nic: Nic, index: int, spec: MachineSpec) -> list[str]:
    if not nic.management:
        return []
    options = f"user,id=net{index},restrict=on,net={USER_NETWORK}"
    for forward in spec.forwards:
        relay = f"{sys.executable} -m sriov_vmtest.relay {forward.socket}"
        options += f",guestfwd=tcp:{forward.address}:{forward.port}-cmd:{relay}"
    return ["-netdev", options]


def _nic_devices(nic: Nic, index: int) -> list[str]:
    peer = f",netdev=net{index}" if nic.management else ""
    if nic.model == "igb":
        port = f"rp{index}"
        return [
            "-device",
            f"pcie-root-port,id={port},chassis={index + 1},bus=pcie.0,addr={nic.slot:#x}",
            "-device",
            f"igb,bus={port},mac={nic.mac},romfile={peer}",
        ]
    return ["-device", f"virtio-net-pci,bus=pcie.0,addr={nic.slot:#x},mac={nic.mac},romfile={peer}"]


def kernel_command_line(spec: MachineSpec) -> str:
    # no_timer_check: under emulation on a loaded host the boot-time check that the timer interrupt
    # arrives through the IO-APIC can miss, which panics a guest with interrupt remapping (vIOMMU)
    args = ["console=ttyS0", "panic=-1", "loglevel=4", "tsc=reliable", "no_timer_check"]
    args += [f"sriov.mgmt={nic.mac}" for nic in spec.nics if nic.management]
    if spec.viommu and spec.iommu_arg:
        args += ["intel_iommu=on"]
    return " ".join([*args, *spec.kernel_args])


def bls_options(entry: str) -> str:
    """The ``options`` of a Boot Loader Specification entry: what a boot loader puts on the command line.

    >>> bls_options("title Linux\\nlinux /vmlinuz\\noptions console=ttyS0  intel_iommu=on\\n")
    'console=ttyS0 intel_iommu=on'
    """
    for line in entry.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "options":
            return " ".join(value.split())
    return ""


def kernel_boot(
    accel: str,
    memory_mib: int,
    kernel: Path,
    command_line: str,
    reboots: bool = False,
    *,
    cpu_vendor: str | None = None,
) -> list[str]:
    """QEMU options of every boot here: q35, one vCPU, no default devices, no display; a guest reboot ends
    QEMU unless the machine ``reboots``."""
    cpu = f"max,vendor={cpu_vendor}" if cpu_vendor else "max"
    machine = ["-machine", "q35", "-accel", accel, "-cpu", cpu, "-smp", "1", "-m", str(memory_mib)]
    headless = ["-nodefaults", "-no-user-config", "-display", "none", *([] if reboots else ["-no-reboot"])]
    return [*machine, *headless, "-kernel", str(kernel), "-append", command_line]


def qemu_arguments(
    spec: MachineSpec,
    bundle: Bundle,
    run_dir: Path,
    project: Path,
    accel: str,
    *,
    command_line: str | None = None,
) -> list[str]:
    """Everything after the QEMU program itself; ``command_line``: the kernel's, if not the spec's."""
    args = [
        "-name",
        spec.name,
        *kernel_boot(
            accel,
            spec.memory_mib,
            bundle.kernel,
            command_line or kernel_command_line(spec),
            spec.reboots,
            cpu_vendor=spec.cpu_vendor,
        ),
        "-initrd",
        str(bundle.initramfs),
        "-chardev",
        f"file,id=console,path={run_dir / 'console.log'},append=on",  # a restart adds to the same log
        "-serial",
        "chardev:console",
    ]
    if spec.viommu:
        args += ["-device", "intel-iommu"]  # before the devices it translates for
    disk = (
        f"file={run_dir / DISK_OVERLAY},if=virtio,format=qcow2"
        if spec.reboots
        else f"file={bundle.root_image},if=virtio,format=raw,snapshot=on"
    )
    args += [
        "-drive",
        disk,
        "-virtfs",
        f"local,path={project},mount_tag=project,security_model=none,readonly=on",
        "-virtfs",
        f"local,path={GUEST_DIR},mount_tag=vmtest,security_model=none,readonly=on",
        "-chardev",
        f"socket,id=agent,path={run_dir / 'agent.sock'},server=on,wait=off",
        "-device",
        "virtio-serial-pci",
        "-device",
        f"virtserialport,chardev=agent,name={AGENT_PORT}",
    ]
    if spec.smbios_vendor:
        args += ["-smbios", f"type=1,manufacturer={spec.smbios_vendor},product={spec.smbios_product or ''}"]
    if spec.config_drive is not None:
        args += [
            "-drive",
            f"file={spec.config_drive},if=none,id=configdrive,media=cdrom,readonly=on,format=raw",
            "-device",
            "ide-cd,drive=configdrive,bus=ide.0",
        ]
    for index, nic in enumerate(spec.nics):
        args += _netdev(nic, index, spec) + _nic_devices(nic, index)
    return args


def isolated(argv: list[str]) -> list[str]:
    """``argv`` in a new network namespace whose only interface is its own loopback.

    The loopback is brought up because QEMU's user network joins each ``guestfwd``
    connection to its ``cmd:`` program over a TCP connection on 127.0.0.1.
    """
    return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "isolated", *argv]


@dataclass(frozen=True)
class GuestResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\n(exit {self.returncode})\n{self.stdout}{self.stderr}"


@dataclass
class TestMachine:
    """A booted guest; use as a context manager (``with TestMachine(...).boot() as vm``)."""

    __test__ = False  # not a pytest test class, despite its name

    spec: MachineSpec
    bundle: Bundle
    run_dir: Path
    project: Path
    accel: str = "tcg"
    boot_timeout_seconds: float = 300.0
    boot_seconds: float = 0.0
    kernel_release: str = ""
    command_line: str | None = None  # the kernel's command line of the current boot, if not the spec's
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _agent: socket.socket | None = field(default=None, repr=False)
    _pending: bytes = b""

    def console_tail(self, lines: int = CONSOLE_TAIL_LINES) -> str:
        texts = []
        for name in ("console.log", "qemu.log"):
            path = self.run_dir / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                texts.append(f"--- {name} (last {len(tail)} lines) ---\n" + "\n".join(tail))
        return "\n".join(texts) or "(no console output)"

    def _fail(self, what: str) -> VmError:
        return VmError(
            f"test machine {self.spec.name}: {what}; logs in {self.run_dir}\n{self.console_tail()}"
        )

    def boot(self) -> Self:
        for program in ("unshare", "ip"):
            if shutil.which(program) is None:
                raise VmError(f"{program} is not on PATH: QEMU only runs in a network namespace of its own")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # the guest cannot write byte code to the read-only share; under TCG compiling at every start is slow
        compileall.compile_dir(self.project / "src", quiet=1)
        if self.spec.reboots and not (self.run_dir / DISK_OVERLAY).exists():
            self._create_overlay()
        qemu = [
            *self.bundle.qemu_command(),
            *qemu_arguments(
                self.spec, self.bundle, self.run_dir, self.project, self.accel, command_line=self.command_line
            ),
        ]
        argv = isolated(["nice", "-n", "19", *qemu])
        (self.run_dir / "qemu.argv").write_text(json.dumps(argv, indent=1))
        started = time.monotonic()
        with (self.run_dir / "qemu.log").open("wb") as qemu_log:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=qemu_log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, safe after fork
            )
        try:
            ready = self._connect(started + self.boot_timeout_seconds)
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = round(time.monotonic() - started, 2)
        self.kernel_release = str(ready.get("kernel", ""))
        log.info("%s booted in %.1f s (kernel %s)", self.spec.name, self.boot_seconds, self.kernel_release)
        return self

    def _create_overlay(self) -> None:
        overlay = self.run_dir / DISK_OVERLAY
        create = [*self.bundle.qemu_img_command(), "create", "-q", "-f", "qcow2", "-F", "raw"]
        result = subprocess.run(
            [*create, "-b", str(self.bundle.root_image), str(overlay)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise VmError(f"test machine {self.spec.name}: qemu-img create failed: {result.stderr.strip()}")

    def install_boot_entry(self) -> str:
        """Give the guest a BLS entry booting what it runs now (``/proc/cmdline``), as an installer would;
        its path.  The guest's own tools (the operator) edit it; `restart_from_boot_entry` boots it."""
        script = (
            f"mkdir -p {Path(BOOT_ENTRY).parent} && "
            f'printf "title Debian (test machine)\\nversion %s\\nlinux /vmlinuz\\noptions %s\\n" '
            f'"$(uname -r)" "$(cat /proc/cmdline)" > {BOOT_ENTRY} && sync'
        )
        result = self.run(["sh", "-c", script])
        if result.returncode != 0:
            raise self._fail(f"could not write its boot entry:\n{result}")
        return BOOT_ENTRY

    def boot_entry_command_line(self) -> str:
        """The command line the guest's boot entry gives its next boot (what a boot loader would read)."""
        result = self.run(["cat", BOOT_ENTRY])
        if result.returncode != 0:
            raise self._fail(f"has no boot entry {BOOT_ENTRY} (install_boot_entry):\n{result}")
        return bls_options(result.stdout)

    def reboot_requested(self) -> bool:
        """Whether something in the guest asked its systemd for a reboot in this boot (the guest has no
        systemd: the ``systemctl`` that init.sh puts on PATH records the request for the harness)."""
        return self.run(["test", "-e", REBOOT_REQUESTED]).returncode == 0

    def restart_from_boot_entry(self, drop: tuple[str, ...] = ()) -> Self:
        """Power the guest off and boot it again with the command line its boot entry says, less ``drop``
        (arguments a test makes the boot lose on purpose); returns when the new boot's agent is up."""
        words = [word for word in self.boot_entry_command_line().split() if word not in drop]
        return self.restart(" ".join(words))

    def restart(self, command_line: str) -> Self:
        """Power the guest off (``sync``, root read-only, the kernel's power-off) and start QEMU again with
        ``command_line``; the disk overlay keeps what the guest wrote.  Only for machines that ``reboots``."""
        if not self.spec.reboots:
            raise VmError(f"test machine {self.spec.name}: not made to reboot (MachineSpec.reboots)")
        # the root read-only first (sysrq u), so nothing is left to write when the disk goes away
        off = "sync && (sleep 0.5; echo u >/proc/sysrq-trigger; sleep 1; echo o >/proc/sysrq-trigger)"
        result = self.run(["sh", "-c", f"{off} >/dev/null 2>&1 &"])
        if result.returncode != 0:
            raise self._fail(f"could not power off:\n{result}")
        assert self._process is not None
        try:
            self._process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise self._fail("did not power off within 120 s") from None
        self.stop()
        (self.run_dir / "agent.sock").unlink(missing_ok=True)
        self._pending = b""
        self.command_line = command_line
        return self.boot()

    def reboot(self) -> Self:
        """Reboot the guest as a crashed or power-cycled node does (``sync``, then the kernel's immediate
        reboot) and wait until its agent is up again; the same QEMU, so the disk keeps what was written.
        Only for a machine that ``reboots`` (otherwise QEMU exits)."""
        if not self.spec.reboots:
            raise VmError(f"test machine {self.spec.name}: not made to reboot (MachineSpec.reboots)")
        started = time.monotonic()
        command = "sync && (sleep 0.5; echo b >/proc/sysrq-trigger) >/dev/null 2>&1 &"
        result = self.run(["sh", "-c", command])
        if result.returncode != 0:
            raise self._fail(f"could not reboot:\n{result}")
        ready = self._receive(started + self.boot_timeout_seconds)
        if not ready.get("ready"):
            raise self._fail(f"unexpected first message from the agent after the reboot: {ready}")
        self.boot_seconds = round(time.monotonic() - started, 2)
        log.info("%s rebooted in %.1f s", self.spec.name, self.boot_seconds)
        return self

    def _exited(self) -> str:
        return f"QEMU exited (code {self._process.returncode if self._process else '?'})"

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _connect(self, deadline: float) -> dict[str, Any]:
        path = self.run_dir / "agent.sock"
        while True:
            if not self.alive():
                raise self._fail(self._exited())
            if time.monotonic() > deadline:
                raise self._fail(f"the guest agent did not answer within {self.boot_timeout_seconds:g} s")
            if path.exists():
                try:
                    agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    agent.connect(str(path))
                    self._agent = agent
                    break
                except OSError:
                    agent.close()
            time.sleep(0.1)
        ready = self._receive(deadline)
        if not ready.get("ready"):
            raise self._fail(f"unexpected first message from the agent: {ready}")
        return ready

    def _receive(self, deadline: float) -> dict[str, Any]:
        assert self._agent is not None
        while b"\n" not in self._pending:
            if not self.alive():
                raise self._fail(self._exited())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail("the guest agent did not answer in time")
            self._agent.settimeout(min(remaining, 1.0))
            try:
                chunk = self._agent.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                chunk = b""  # reset: QEMU went away
            if not chunk:
                if self._process is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self._process.wait(timeout=10)  # a closed channel usually means QEMU is exiting
                raise self._fail(self._exited() if not self.alive() else "the agent channel closed")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def run(self, argv: list[str], *, input: str = "", timeout: float = 300.0) -> GuestResult:
        """Run a program in the guest and return what it did (never raises for a non-zero exit)."""
        if self._agent is None:
            raise VmError(f"test machine {self.spec.name}: not booted")
        request = {"argv": argv, "input": input, "timeout": timeout}
        self._agent.sendall((json.dumps(request) + "\n").encode())
        reply = self._receive(time.monotonic() + timeout + 30)
        return GuestResult(
            argv, int(reply["returncode"]), reply["stdout"], reply["stderr"], float(reply["seconds"])
        )

    def stop(self) -> None:
        if self._agent is not None:
            self._agent.close()
            self._agent = None
        if self._process is not None and self._process.poll() is None:
            self._process.kill()  # the disk is a snapshot: nothing to save
            self._process.wait(timeout=30)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
