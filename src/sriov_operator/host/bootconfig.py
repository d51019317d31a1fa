"""The host's boot configuration: which one applies, what the kernel booted with, and our edits to it.

Three kinds, detected in this order under the host root:

- ``rpm-ostree`` (CoreOS, OpenShift): ``/run/ostree-booted`` exists; arguments are
  added with ``rpm-ostree kargs --append-if-missing=…`` (a new pending deployment).
- ``bls`` (RHEL-like, GRUB 2 with Boot Loader Specification entries, what ``grubby``
  edits): ``/boot/loader/entries/*.conf``; the ``options`` line of every entry.
- ``grub`` (Debian-like): ``/etc/default/grub``; ``GRUB_CMDLINE_LINUX``, then
  ``update-grub`` regenerates ``grub.cfg``.

The edits are pure functions of a file's text, so they are tested without a
host; nothing here ever removes an argument.  What we added, and where we wrote
it in which boot (the loop guard's input), is kept in
``/etc/sriov-operator/kernel-args.json`` and the ``kernelArgsWritten`` boot mark.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sriov_operator.errors import HostError
from sriov_operator.host.boot import BootMark, BootMarks, read_boot_marks
from sriov_operator.host.root import OPERATOR_STATE_DIR, HostFileError, HostRoot
from sriov_operator.host.writer import HostWriter

BootLoader = Literal["rpm-ostree", "bls", "grub"]
OSTREE_BOOTED = "run/ostree-booted"
BLS_ENTRIES = "boot/loader/entries"
DEFAULT_GRUB = "etc/default/grub"
PROC_CMDLINE = "proc/cmdline"
CPUINFO = "proc/cpuinfo"
CPUINFO_MAX_BYTES = 4 * 1024 * 1024  # ~1.5 KiB per CPU
KERNEL_ARGS_FILE = f"{OPERATOR_STATE_DIR}/kernel-args.json"
GRUB_CMDLINE = "GRUB_CMDLINE_LINUX"
REALLOC_ARG = "pci=realloc"
ARGS_WRITTEN: BootMark = "kernelArgsWritten"
REBOOT_REQUESTED: BootMark = "rebootRequested"
NO_BOOT_CONFIG = (
    "no boot configuration found under the host root (looked for /run/ostree-booted for rpm-ostree, "
    "/boot/loader/entries/*.conf for BLS and /etc/default/grub for GRUB)"
)
_GRUB_LINE = re.compile(rf"^{GRUB_CMDLINE}=(?P<quote>[\"']?)(?P<value>.*)(?P=quote)\s*$")


class BootConfigError(HostError):
    """The boot configuration is not one we can edit safely; the message names the file and why."""


@dataclass(frozen=True)
class BootConfig:
    loader: BootLoader
    where: str  # what is written, as the host sees it: files, or ``rpm-ostree kargs``


@dataclass(frozen=True)
class WrittenArgs:
    """Arguments we last wrote into the boot configuration, where, and whether in this boot."""

    args: tuple[str, ...]
    where: str
    in_this_boot: bool
    removed: tuple[str, ...] = ()  # ours, taken out in the same write


@dataclass(frozen=True)
class KernelArgsRecord:
    """Our file: the arguments we added (never any other), the last write, and arguments requested by a
    failure (``pci=realloc`` after ENOMEM) with why."""

    added: tuple[str, ...] = ()
    written: tuple[str, ...] = ()
    where: str = ""
    requested: tuple[tuple[str, str], ...] = ()
    removed: tuple[str, ...] = ()  # ours, taken out by the last write

    def to_json(self) -> str:
        body = {
            "added": list(self.added),
            "written": {"args": list(self.written), "removed": list(self.removed), "where": self.where},
            "requested": dict(self.requested),
        }
        return json.dumps(body, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class BootState:
    """What the planner needs about booting: the running command line, the boot configuration, our record."""

    cmdline: frozenset[str] = frozenset()
    config: BootConfig | None = None
    written: WrittenArgs | None = None
    requested: tuple[tuple[str, str], ...] = ()  # argument -> why (a failure asked for it)
    added: tuple[str, ...] = ()  # the arguments we added (the only ones we may take out)
    reboot_requested: bool = False  # we asked for a reboot in this boot
    cpu_vendor: str | None = None  # ``GenuineIntel``, ``AuthenticAMD``


def bls_entries(host: HostRoot) -> list[Path]:
    directory = host.path(BLS_ENTRIES)
    return [directory / name for name in host.names(directory) if name.endswith(".conf")]


def detect_boot_config(host: HostRoot) -> BootConfig | None:
    if host.path(OSTREE_BOOTED).exists():
        return BootConfig("rpm-ostree", "rpm-ostree kargs")
    if entries := bls_entries(host):
        return BootConfig("bls", ", ".join(host.display(entry) for entry in entries))
    if host.path(DEFAULT_GRUB).is_file():
        return BootConfig("grub", f"/{DEFAULT_GRUB} (then update-grub)")
    return None


Edited = tuple[str, tuple[str, ...]]  # the new text, and the arguments it did not have


def with_bls_options(text: str, args: tuple[str, ...], where: str) -> Edited:
    """A BLS entry with ``args`` appended to its ``options`` line (those it lacks)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        key, _, value = line.strip().partition(" ")
        if key != "options":
            continue
        if "$" in value:
            raise BootConfigError(
                f"{where}: options {value.strip()!r} refers to a variable (grubenv kernelopts); "
                "edit it with grubby, or give the entry literal options"
            )
        present = value.split()
        missing = tuple(a for a in args if a not in present)
        lines[index] = "options " + " ".join([*present, *missing])
        return "\n".join(lines) + "\n", missing
    return "\n".join([*lines, "options " + " ".join(args)]) + "\n", args


def with_grub_cmdline(text: str, args: tuple[str, ...], where: str) -> Edited:
    """``/etc/default/grub`` with ``args`` appended to GRUB_CMDLINE_LINUX (the last such line wins)."""
    lines = text.splitlines()
    found = [i for i, line in enumerate(lines) if line.startswith(f"{GRUB_CMDLINE}=")]
    if not found:
        return "\n".join([*lines, f'{GRUB_CMDLINE}="{" ".join(args)}"']) + "\n", args
    match = _GRUB_LINE.match(lines[found[-1]])
    if match is None or any(c in match["value"] for c in "$`\"'\\"):
        raise BootConfigError(
            f"{where}: {lines[found[-1]][:120]!r} is not a plain quoted list of arguments; "
            f"add {' '.join(args)} yourself"
        )
    present = match["value"].split()
    missing = tuple(a for a in args if a not in present)
    lines[found[-1]] = f'{GRUB_CMDLINE}="{" ".join([*present, *missing])}"'
    return "\n".join(lines) + "\n", missing


def without_bls_options(text: str, args: tuple[str, ...], where: str) -> Edited:
    """A BLS entry without ``args`` on its ``options`` line; the ones it had."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        key, _, value = line.strip().partition(" ")
        if key == "options":
            present = value.split()
            lines[index] = "options " + " ".join(a for a in present if a not in args)
            return "\n".join(lines) + "\n", tuple(a for a in args if a in present)
    return text, ()


def without_grub_cmdline(text: str, args: tuple[str, ...], where: str) -> Edited:
    """``/etc/default/grub`` without ``args`` in its last GRUB_CMDLINE_LINUX line; the ones it had."""
    lines = text.splitlines()
    found = [i for i, line in enumerate(lines) if line.startswith(f"{GRUB_CMDLINE}=")]
    match = _GRUB_LINE.match(lines[found[-1]]) if found else None
    if match is None:
        return text, ()
    present = match["value"].split()
    lines[found[-1]] = f'{GRUB_CMDLINE}="{" ".join(a for a in present if a not in args)}"'
    return "\n".join(lines) + "\n", tuple(a for a in args if a in present)


def read_cmdline(host: HostRoot) -> frozenset[str]:
    return frozenset((host.read(host.path(PROC_CMDLINE)) or "").split())


def read_cpu_vendor(host: HostRoot) -> str | None:
    for line in (host.read(host.path(CPUINFO), CPUINFO_MAX_BYTES) or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "vendor_id":
            return value.strip()
    return None


def read_record(host: HostRoot) -> KernelArgsRecord:
    path = host.path(KERNEL_ARGS_FILE)
    text = host.read_state_file(path)
    if text is None:
        return KernelArgsRecord()
    try:
        body = json.loads(text)
        written, requested = body["written"], body["requested"]
        record = KernelArgsRecord(
            added=tuple(str(a) for a in body["added"]),
            written=tuple(str(a) for a in written["args"]),
            where=str(written["where"]),
            requested=tuple((str(k), str(v)) for k, v in dict(requested).items()),
            removed=tuple(str(a) for a in written.get("removed", [])),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise HostFileError(
            f"{host.display(path)}: not our kernel-argument record; remove it, and the operator forgets "
            "which kernel arguments it added"
        ) from None
    return record


def write_record(host: HostRoot, writer: HostWriter, record: KernelArgsRecord) -> bool:
    path = host.path(KERNEL_ARGS_FILE)
    text = record.to_json()
    if host.read_state_file(path) == text:
        return False
    writer.write_file(path, text)
    return True


def read_boot_state(host: HostRoot, marks: BootMarks | None = None) -> BootState:
    record, boot = read_record(host), marks or read_boot_marks(host)
    written = None
    if record.written or record.removed:
        this_boot = boot.in_this_boot(ARGS_WRITTEN)
        written = WrittenArgs(record.written, record.where, this_boot, record.removed)
    return BootState(
        cmdline=read_cmdline(host),
        config=detect_boot_config(host),
        written=written,
        requested=record.requested,
        added=record.added,
        reboot_requested=boot.in_this_boot(REBOOT_REQUESTED),
        cpu_vendor=read_cpu_vendor(host),
    )
