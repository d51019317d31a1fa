"""The simulated boot loader: the boot configuration files, the tools that edit them, what a reboot boots.

No kinder than a real one: a reboot boots what the boot loader reads (the
newest BLS entry's ``options``, the ``linux`` line of ``grub.cfg``, the pending
rpm-ostree deployment), so an edit of ``/etc/default/grub`` without
``update-grub`` is lost, as on a real Debian host.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from sriov_operator.host.bootconfig import BLS_ENTRIES, DEFAULT_GRUB, OSTREE_BOOTED, PROC_CMDLINE
from sriov_operator.host.programs import CommandResult
from sriov_operator.host.simulator.model import KernelState

GRUB_CFG = "boot/grub/grub.cfg"
GRUBENV = "boot/grub2/grubenv"
KERNEL_IMAGE = "/vmlinuz"
BLS_ENTRY = "simulated-6.1.0.conf"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _grub_cfg(args: list[str]) -> str:
    return f"menuentry 'Linux' {{\n\tlinux {KERNEL_IMAGE} {' '.join(args)}\n}}\n"


def write_boot_config(root: Path, state: KernelState, loader: str, args: list[str]) -> None:
    """The files a freshly installed host of this kind boots ``args`` from."""
    if loader == "rpm-ostree":
        _write(root / OSTREE_BOOTED, "")
        state.ostree_kargs = list(args)
    elif loader == "bls":
        entry = f"title Linux\nversion 6.1.0\nlinux {KERNEL_IMAGE}\noptions {' '.join(args)}\n"
        _write(root / BLS_ENTRIES / BLS_ENTRY, entry)
    else:
        _write(root / DEFAULT_GRUB, f'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="{" ".join(args)}"\n')
        _write(root / GRUB_CFG, _grub_cfg(args))


def _grubenv(root: Path, name: str) -> str:
    path = root / GRUBENV
    lines = path.read_text().splitlines() if path.is_file() else []
    return next((line.partition("=")[2] for line in lines if line.startswith(f"{name}=")), "")


def boot_args(root: Path, state: KernelState) -> list[str]:
    """The arguments the next boot gets from the boot configuration (the current ones if there is none)."""
    if (root / OSTREE_BOOTED).exists():
        return list(state.ostree_kargs)
    entries = sorted((root / BLS_ENTRIES).glob("*.conf"))
    if entries:
        options = next(
            (
                line.split(None, 1)[1:]
                for line in entries[-1].read_text().splitlines()
                if line.startswith("options")
            ),
            [],
        )
        text = " ".join(options).replace("$kernelopts", _grubenv(root, "kernelopts"))
        return text.split()
    if (root / GRUB_CFG).is_file():
        for line in (root / GRUB_CFG).read_text().splitlines():
            words = line.split()
            if words and words[0] == "linux":
                return words[2:]
    current = (root / PROC_CMDLINE).read_text().split()
    return [a for a in current if not a.startswith("BOOT_IMAGE=")]


def rpm_ostree(root: Path, state: KernelState, options: list[str]) -> CommandResult:
    """``rpm-ostree kargs`` (shows), ``--append-if-missing=A`` and ``--delete-if-present=A`` (change the
    pending deployment)."""
    if not (root / OSTREE_BOOTED).exists():
        return CommandResult(127, "", "rpm-ostree: not available on the simulated host")
    for option in options:
        name, _, value = option.partition("=")
        if name not in ("--append-if-missing", "--delete-if-present") or not value:
            return CommandResult(1, "", f"rpm-ostree kargs: unknown option {option}")
        if name == "--delete-if-present":
            state.ostree_kargs = [a for a in state.ostree_kargs if a != value]
        elif value not in state.ostree_kargs:
            state.ostree_kargs.append(value)
    return CommandResult(0, " ".join(state.ostree_kargs) + "\n")


def update_grub(root: Path) -> CommandResult:
    """Regenerate grub.cfg from ``/etc/default/grub`` (GRUB_CMDLINE_LINUX, then _DEFAULT), as Debian's."""
    if not (root / GRUB_CFG).is_file() or not (root / DEFAULT_GRUB).is_file():
        return CommandResult(127, "", "update-grub: not available on the simulated host")
    values: dict[str, str] = {}
    for line in (root / DEFAULT_GRUB).read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and name.startswith("GRUB_"):
            try:
                values[name] = " ".join(shlex.split(value))
            except ValueError:
                return CommandResult(1, "", f"/{DEFAULT_GRUB}: cannot parse {line!r}")
    args = f"{values.get('GRUB_CMDLINE_LINUX', '')} {values.get('GRUB_CMDLINE_LINUX_DEFAULT', '')}".split()
    _write(root / GRUB_CFG, _grub_cfg(args))
    return CommandResult(0)
