"""Simulated ``mstconfig`` and ``mstfwreset`` (mstflint) over the cards of the simulated kernel.

No kinder than the real tools: a card keeps a factory default, the value its
firmware runs with and the value its next load takes for each setting; ``set``
changes only the last (and only with ``-y``: the real tool asks otherwise);
the running values change only when the firmware loads again, at a reboot
(unless the card's ``reloadsOnReboot`` is false: a warm reboot that keeps the
card powered, the reboot loop upstream's users hit) or at ``mstfwreset``. The
kernel offers as ``sriov_totalvfs`` what the running firmware allows, and a card
with SR-IOV off has no SR-IOV files at all.  In kernel lockdown user space cannot
reach a device's configuration space, so every command fails; a card's
``fails`` makes one command fail as a broken firmware would.
"""

from __future__ import annotations

from collections.abc import Sequence

from sriov_operator.host.mellanox import NUM_OF_VFS, PARAMETERS, SRIOV_EN
from sriov_operator.host.programs import CommandResult
from sriov_operator.host.simulator.model import SimFirmware

FIRMWARE_PROGRAMS = frozenset({"mstconfig", "mstfwreset"})
_WORDS = {
    SRIOV_EN: {"True": "True", "1": "True", "False": "False", "0": "False"},
    "LINK_TYPE": {"IB": "IB", "1": "IB", "ETH": "ETH", "2": "ETH", "VPI": "VPI", "3": "VPI"},
}
_CODES = {"True": 1, "False": 0, "IB": 1, "ETH": 2, "VPI": 3}
_OTHER_SETTINGS = (("MEMIC_BAR_SIZE", "0"), ("NUM_OF_PF", "2"), ("PF_LOG_BAR_SIZE", "5"))


def _shown(value: str) -> str:
    return f"{value}({_CODES[value]})" if value in _CODES else value


def query_output(card: SimFirmware, device: str) -> str:
    """The ``-e`` query table: every setting with its default, current and next-boot value."""
    lines = [
        "",
        "Device #1:",
        "----------",
        "",
        "Device type:        ConnectX6DX",
        "Name:               MCX623106AN-CDA_Ax",
        f"Device:             {device}",
        "",
        f"{'Configurations:':<52}{'Default':<21}{'Current':<21}Next Boot",
    ]
    for name, value in _OTHER_SETTINGS:
        lines.append(f"        {name:<44}{value:<21}{value:<21}{value}")
    for name, setting in card.settings.items():
        mark = "*" if setting.next_boot != setting.default else " "
        values = [_shown(v) for v in (setting.default, setting.current, setting.next_boot)]
        lines.append(f"{mark}       {name:<44}{values[0]:<21}{values[1]:<21}{values[2]}")
    return "\n".join(lines) + "\n"


def _error(text: str) -> CommandResult:
    return CommandResult(1, "", f"-E- {text}\n")


def _parsed_sets(card: SimFirmware, assignments: Sequence[str]) -> dict[str, str] | CommandResult:
    values: dict[str, str] = {}
    for assignment in assignments:
        name, equals, raw = assignment.partition("=")
        if not equals or name not in card.settings or name not in PARAMETERS:
            return _error(f"Unknown Parameter: {name}")
        if name == NUM_OF_VFS:
            if not raw.isdigit() or int(raw) > card.max_vfs:
                limit = f"out of range (0..{card.max_vfs})"
                return _error(f"Failed to set configuration: NUM_OF_VFS {raw}: {limit}")
            values[name] = str(int(raw))
            continue
        word = _WORDS[SRIOV_EN if name == SRIOV_EN else "LINK_TYPE"].get(raw)
        if word is None:
            return _error(f"Failed to set configuration: bad value {raw!r} for {name}")
        values[name] = word
    return values


def mstconfig(card: SimFirmware, lockdown: bool, argv: list[str]) -> CommandResult:
    """``mstconfig -e -d <pci> q`` and ``mstconfig -y -d <pci> set NAME=VALUE…`` (any PF of the card)."""
    match argv:
        case ["mstconfig", "-e", "-d", device, ("q" | "query")]:
            if lockdown or card.fails == "query":
                why = (
                    "Operation not permitted" if lockdown else "Failed to query device current configuration"
                )
                return _error(f"Failed to open device: {device}, {why}")
            return CommandResult(0, query_output(card, device))
        case ["mstconfig", "-y", "-d", device, "set", *assignments] if assignments:
            if lockdown or card.fails == "set":
                why = "Operation not permitted" if lockdown else "Failed to set configuration: ME_ERROR"
                return _error(f"Failed to open device: {device}, {why}" if lockdown else why)
            values = _parsed_sets(card, assignments)
            if isinstance(values, CommandResult):
                return values
            for name, value in values.items():
                card.settings[name].next_boot = value
            said = "Apply new Configuration? (y/n) [n] : y\nApplying... Done!\n"
            return CommandResult(0, said + "-I- Please reboot machine to load new configurations.\n")
        case ["mstconfig", "-d", _, "set", *_]:
            return CommandResult(1, "Apply new Configuration? (y/n) [n] : ", "-E- Aborted by user\n")
    return _error(f"mstconfig: bad usage: {' '.join(argv[1:])[:80]}")


def mstfwreset(card: SimFirmware, lockdown: bool, argv: list[str]) -> CommandResult | None:
    """``mstfwreset -d <pci> --skip_driver -l 3 -y reset``: None when it may reload, else the failure."""
    match argv:
        case ["mstfwreset", "-d", device, "--skip_driver", "-l", "3", "-y", "reset"]:
            if lockdown or card.fails == "reset":
                why = "Operation not permitted" if lockdown else "MFE_CR_ERROR"
                return _error(f"Failed to reset the device {device}: {why}")
            return None
    return _error(f"mstfwreset: bad usage: {' '.join(argv[1:])[:80]}")


def reload(card: SimFirmware) -> None:
    """The firmware loads again: the next-boot values become the running ones."""
    for setting in card.settings.values():
        setting.current = setting.next_boot


def offered_vfs(card: SimFirmware) -> int | None:
    """The VFs each PF of the card offers (``sriov_totalvfs``), None with SR-IOV off."""
    if card.settings[SRIOV_EN].current != "True":
        return None
    return int(card.settings[NUM_OF_VFS].current)


def is_locked_down(lockdown_file: str) -> bool:
    """``none [integrity] confidentiality``: the bracketed mode is the one in force."""
    return "[integrity]" in lockdown_file or "[confidentiality]" in lockdown_file
