"""Mellanox (NVIDIA) NIC firmware settings through ``mstconfig`` (mstflint), and our record of what we asked.

The firmware of a ConnectX card keeps, per card, whether SR-IOV is on
(``SRIOV_EN``), how many VFs a port may have (``NUM_OF_VFS``: the kernel's
``sriov_totalvfs``) and each port's protocol (``LINK_TYPE_P1``/``_P2``).
``mstconfig -e -d <pci> q`` shows three columns per setting: the factory
default, the value the firmware runs with now, and the value the next firmware
load takes (``set`` changes only that one; a reboot that reloads the firmware,
or ``mstfwreset``, makes it current).

Parsing is pure and strict: output that is not the three-column table, or a
value of ours that is not what the tool prints, is a one-line error naming the
device, the line and what was expected.  The programs run through the host's
CommandRunner (under ``chroot`` on a host root: the host needs mstflint).
What we asked the firmware for is kept per card with the boot it was asked in
(``/etc/sriov-operator/firmware.json``): the loop guard's input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sriov_operator.errors import BadInputError, HostError
from sriov_operator.host.boot import read_boot_marks
from sriov_operator.host.programs import CommandRunner, failure
from sriov_operator.host.root import OPERATOR_STATE_DIR, HostFileError, HostRoot
from sriov_operator.host.writer import HostWriter

MELLANOX_VENDOR = "15b3"
SRIOV_EN = "SRIOV_EN"
NUM_OF_VFS = "NUM_OF_VFS"
LINK_TYPE = ("LINK_TYPE_P1", "LINK_TYPE_P2")  # port 1 and 2 of a card
PARAMETERS = (SRIOV_EN, NUM_OF_VFS, *LINK_TYPE)
LINK_TYPES = ("ETH", "IB")  # what a port may be set to (VPI: the port senses it; not asked for)
LOCKDOWN = "sys/kernel/security/lockdown"
FIRMWARE_RECORD = f"{OPERATOR_STATE_DIR}/firmware.json"
QUERY_MAX_CHARS = 1024 * 1024  # a real query is ~10 KB
MISSING_PROGRAM = 127
_HEADER = re.compile(r"^\s*Configurations:\s+Default\s+Current\s+Next Boot\s*$")
_SETTING = re.compile(r"^\*?\s*(?P<name>[A-Z][A-Z0-9_]*)\s+(?P<values>\S.*?)\s*$")
_VALUE = re.compile(r"^(?P<word>[A-Za-z0-9_.\[\]]+?)(?:\((?P<code>\d+)\))?$")
_EXPECTED = {SRIOV_EN: "True or False", NUM_OF_VFS: "a count of VFs", "LINK_TYPE": "ETH, IB or VPI"}


class FirmwareQueryError(HostError):
    """``mstconfig`` answered with something that is not its query table; the message names the line."""


class FirmwareError(BadInputError):
    """The spec needs a firmware change this host cannot make, or one a reboot did not make: no reboot."""


@dataclass(frozen=True)
class Setting:
    """One firmware setting's three columns, as words (``True``, ``8``, ``ETH``), no ``(n)`` codes."""

    default: str
    current: str
    next_boot: str


@dataclass(frozen=True)
class FirmwareConfig:
    """The settings we read of one card (a card without LINK_TYPE cannot change it)."""

    settings: Mapping[str, Setting]

    def current(self, name: str) -> str | None:
        setting = self.settings.get(name)
        return setting.current if setting else None

    def next_boot(self, name: str) -> str | None:
        setting = self.settings.get(name)
        return setting.next_boot if setting else None


def _word(raw: str, name: str, device: str, line: str) -> str:
    match = _VALUE.fullmatch(raw)
    kind = "LINK_TYPE" if name in LINK_TYPE else name
    word = match["word"] if match else ""
    valid = {
        SRIOV_EN: word in ("True", "False"),
        NUM_OF_VFS: word.isdigit() and len(word) <= 6,
        "LINK_TYPE": word in (*LINK_TYPES, "VPI"),
    }[kind]
    if not valid:
        raise FirmwareQueryError(
            f"mstconfig query of {device}: {name} {raw[:40]!r} in line {line[:120]!r}; "
            f"expected {_EXPECTED[kind]}"
        )
    return word


def parse_query(text: str, device: str) -> FirmwareConfig:
    """``mstconfig -e -d <device> q`` -> the settings of ours it shows.

    >>> table = "Configurations:   Default   Current   Next Boot\\n*  NUM_OF_VFS   8   4   16\\n"
    >>> table += "   SRIOV_EN   True(1)   True(1)   True(1)\\n"
    >>> parse_query(table, "0000:3b:00.0").settings["NUM_OF_VFS"]
    Setting(default='8', current='4', next_boot='16')
    """
    if len(text) > QUERY_MAX_CHARS:
        raise FirmwareQueryError(f"mstconfig query of {device}: {len(text)} characters, more than a query")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is None:
        raise FirmwareQueryError(
            f"mstconfig query of {device}: no 'Configurations: Default Current Next Boot' header "
            "(expected the output of mstconfig -e q)"
        )
    settings: dict[str, Setting] = {}
    for line in lines[start + 1 :]:
        match = _SETTING.match(line)
        if match is None or match["name"] not in PARAMETERS:
            continue
        name, values = match["name"], match["values"].split()
        if len(values) != 3:
            raise FirmwareQueryError(
                f"mstconfig query of {device}: {name} has {len(values)} values in line {line[:120]!r}; "
                "expected three (default, current, next boot)"
            )
        if name in settings:
            raise FirmwareQueryError(f"mstconfig query of {device}: {name} is shown twice")
        settings[name] = Setting(*(_word(value, name, device, line) for value in values))
    for needed in (SRIOV_EN, NUM_OF_VFS):
        if needed not in settings:
            raise FirmwareQueryError(
                f"mstconfig query of {device}: no {needed} setting (no SR-IOV firmware settings)"
            )
    return FirmwareConfig(settings)


@dataclass(frozen=True)
class FirmwareRead:
    """What one card's firmware said: its settings, or why they could not be read."""

    config: FirmwareConfig | None = None
    problem: str | None = None


@dataclass(frozen=True)
class FirmwareAsked:
    """Settings we asked a card's firmware for, and whether in this boot (before it, a reboot came since)."""

    values: Mapping[str, str]
    in_this_boot: bool


@dataclass(frozen=True)
class FirmwareFacts:
    """Everything the planner knows of Mellanox firmware on this host."""

    cards: Mapping[str, FirmwareRead] = field(default_factory=dict)  # the card's queried PF -> its firmware
    asked: Mapping[str, FirmwareAsked] = field(default_factory=dict)  # queried PF -> what we asked
    reset_allowed: bool = False  # the mellanoxFirmwareReset feature gate: mstfwreset before the reboot


def lockdown_mode(host: HostRoot) -> str | None:
    """The kernel's lockdown (``integrity``, ``confidentiality``), None when off or unknown.

    In lockdown, user space cannot reach a device's configuration space, so mstconfig cannot work.
    """
    text = host.read(host.path(LOCKDOWN)) or ""
    chosen = re.search(r"\[(\w+)\]", text)
    return chosen[1] if chosen and chosen[1] != "none" else None


def query_command(pci: str) -> list[str]:
    return ["mstconfig", "-e", "-d", pci, "q"]


def read_firmware(run: CommandRunner, pci: str, lockdown: str | None) -> FirmwareRead:
    """One card's firmware, by one of its PFs; a failure is kept as the reason, never raised."""
    if lockdown is not None:
        return FirmwareRead(
            problem=f"the kernel is in lockdown ({lockdown}), so mstconfig cannot reach the firmware"
        )
    argv = query_command(pci)
    result = run(argv)
    if result.returncode == MISSING_PROGRAM:
        return FirmwareRead(problem="mstconfig is not installed on the host (package mstflint)")
    if result.returncode != 0:
        return FirmwareRead(problem=failure(argv, result))
    try:
        return FirmwareRead(parse_query(result.stdout, pci))
    except FirmwareQueryError as error:
        return FirmwareRead(problem=str(error))


def set_command(pci: str, values: Iterable[tuple[str, str]]) -> list[str]:
    return ["mstconfig", "-y", "-d", pci, "set", *(f"{name}={value}" for name, value in values)]


def reset_command(pci: str) -> list[str]:
    """Reload the firmware without touching the driver (the reboot that follows reloads it), as upstream."""
    return ["mstfwreset", "-d", pci, "--skip_driver", "-l", "3", "-y", "reset"]


def mellanox_cards(pfs: Iterable[tuple[str, str | None]]) -> dict[str, list[str]]:
    """(PF address, vendor) -> the card's first PF (the one queried) -> its Mellanox PFs, port order."""
    by_slot: dict[str, list[str]] = {}
    for pci, vendor in sorted(pfs):
        if vendor == MELLANOX_VENDOR:
            by_slot.setdefault(pci.rpartition(".")[0], []).append(pci)
    return {ports[0]: ports for ports in by_slot.values()}


# ---- what we asked for: the loop guard's record


_Entries = dict[str, tuple[dict[str, str], str]]  # queried PF -> (asked settings, boot id asked in)


def _read_entries(host: HostRoot) -> _Entries:
    path = host.path(FIRMWARE_RECORD)
    text = host.read_state_file(path)
    body: object = {}
    if text is not None:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
    entries: _Entries = {}
    for pci, entry in body.items() if isinstance(body, dict) else [(None, None)]:
        asked = entry.get("asked") if isinstance(entry, dict) else None
        boot_id = entry.get("bootId") if isinstance(entry, dict) else None
        if not isinstance(asked, dict) or not isinstance(boot_id, str):
            raise HostFileError(
                f"{host.display(path)}: not our firmware record (card -> asked settings and boot id); remove "
                "it and the operator forgets which firmware settings it asked for (and their loop guard)"
            )
        entries[str(pci)] = ({str(k): str(v) for k, v in asked.items()}, boot_id)
    return entries


def read_asked(host: HostRoot) -> dict[str, FirmwareAsked]:
    boot_id = read_boot_marks(host).boot_id
    return {
        pci: FirmwareAsked(asked, boot_id is not None and asked_in == boot_id)
        for pci, (asked, asked_in) in _read_entries(host).items()
    }


def record_asked(host: HostRoot, writer: HostWriter, pci: str, values: Mapping[str, str]) -> None:
    """Keep what ``pci``'s firmware was asked for in this boot (an unknown boot is recorded as ``""``)."""
    entries = _read_entries(host)
    entries[pci] = (dict(values), read_boot_marks(host).boot_id or "")
    body = {card: {"asked": asked, "bootId": boot_id} for card, (asked, boot_id) in entries.items()}
    writer.write_file(host.path(FIRMWARE_RECORD), json.dumps(body, indent=2, sort_keys=True) + "\n")
