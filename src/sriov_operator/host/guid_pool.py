"""InfiniBand VF GUIDs: the GUID file read into a pool, and every VF's GUID decided from it.

Pure: text and discovered facts in, GUIDs (or a one-line error) out; nothing here
reads the host.  A GUID is a 64-bit number; users and the status see it as eight
hex octets joined by ``:`` (``02:00:00:00:00:00:00:01``), the form of the GUID
file and of ``ip link``.

The GUID file (upstream's format, default ``/etc/sriov-operator/infiniband/guids``
under the host root) is a JSON list with one entry per PF: the PF named by
``pciAddress`` or by ``pfGuid``, and its GUIDs as a ``guids`` list or a range,
``guidsRange: {start, end}`` (or the older ``rangeStart``/``rangeEnd``), both ends
included.  VF ``n`` of a PF takes the entry's ``n``-th GUID, so a VF keeps its GUID
whatever happens to the other VFs and the order of the file.

Without a file each VF's GUID is derived from its PF's own port GUID and the VF
index (a locally administered unicast GUID), the same on every pass and every boot.

Either way no GUID is given to two VFs: entries that share a GUID are refused
when the file is read, and derived GUIDs that would collide are derived again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sriov_operator.errors import BadInputError
from sriov_operator.host.pci import PCI_ADDRESS_FORM, is_pci_address

DEFAULT_GUID_FILE = "/etc/sriov-operator/infiniband/guids"
GUID_FORM = "8 hex octets joined by ':' (or '-'), e.g. 02:00:00:00:00:00:00:01"
ENTRY_KEYS = ("pciAddress", "pfGuid", "guids", "guidsRange", "rangeStart", "rangeEnd")
IPOIB_ADDRESS_OCTETS = 20  # an IPoIB hardware address: QP number, GID prefix, then the port GUID
_OCTETS = re.compile(r"[0-9a-fA-F]{2}(?P<sep>[:-])[0-9a-fA-F]{2}(?:(?P=sep)[0-9a-fA-F]{2}){6}")
_SYSFS = re.compile(r"[0-9a-fA-F]{4}(?::[0-9a-fA-F]{4}){3}")  # sysfs node_guid: xxxx:xxxx:xxxx:xxxx
_LOCAL_UNICAST_CLEAR = 0x03 << 56  # the I/G and U/L bits of the first octet
_LOCAL_UNICAST_SET = 0x02 << 56  # locally administered, unicast


class GuidPoolError(BadInputError):
    """The GUID file is malformed, or its GUIDs do not cover the VFs the spec wants."""


def parse_guid(text: object) -> int | None:
    """A GUID as 8 octets (``:`` or ``-``) or as sysfs writes it (``xxxx:xxxx:xxxx:xxxx``); else None."""
    if not isinstance(text, str) or not (_OCTETS.fullmatch(text) or _SYSFS.fullmatch(text)):
        return None
    return int(re.sub(r"[:-]", "", text), 16)


def format_guid(value: int) -> str:
    return ":".join(f"{octet:02x}" for octet in value.to_bytes(8, "big"))


def port_guid_of_address(address: str | None) -> int | None:
    """The port GUID in an IPoIB netdev's 20-octet hardware address (its last 8 octets)."""
    octets = (address or "").split(":")
    if len(octets) != IPOIB_ADDRESS_OCTETS:
        return None
    return parse_guid(":".join(octets[-8:]))


def pf_guid_value(text: object) -> int | None:
    """A file's ``pfGuid``: the PF's port GUID, or its whole IPoIB address (what upstream compares)."""
    return parse_guid(text) or (port_guid_of_address(text) if isinstance(text, str) else None)


@dataclass(frozen=True)
class PoolEntry:
    """One PF's GUIDs from the file: an explicit list, or the range ``first``..``last`` (both included)."""

    where: str  # ``<file>[<index>]``, for messages
    pci_address: str | None
    pf_guid: str | None  # as written: 8 octets, or a whole IPoIB address
    guids: tuple[int, ...] = ()
    first: int = 0
    last: int = -1

    @property
    def size(self) -> int:
        return len(self.guids) if self.guids else self.last - self.first + 1

    def guid(self, index: int) -> int | None:
        if index >= self.size:
            return None
        return self.guids[index] if self.guids else self.first + index

    def spans(self) -> list[tuple[int, int]]:
        """The GUIDs it holds as closed intervals (a list: one per GUID)."""
        return [(g, g) for g in self.guids] if self.guids else [(self.first, self.last)]

    def names(self, pf: IbPf) -> bool:
        if self.pci_address is not None:
            return self.pci_address == pf.pci_address
        wanted = pf_guid_value(self.pf_guid)
        return wanted is not None and wanted == pf.port_guid


@dataclass(frozen=True)
class GuidFile:
    path: str
    entries: tuple[PoolEntry, ...]


@dataclass(frozen=True)
class GuidSource:
    """Where VF GUIDs come from on a host: its GUID file, or (none there) derived ones.

    ``problem``: the file exists but cannot be used (unreadable, malformed); a plan
    that needs GUIDs fails with it, any other plan goes on.
    """

    path: str = DEFAULT_GUID_FILE
    file: GuidFile | None = None
    problem: str | None = None


@dataclass(frozen=True)
class IbPf:
    """An InfiniBand PF as the pool sees it: its address, its own port GUID, the VFs that need GUIDs."""

    pci_address: str
    address: str | None  # its IPoIB hardware address (what upstream compares ``pfGuid`` with)
    vf_ids: tuple[int, ...]

    @property
    def port_guid(self) -> int | None:
        return port_guid_of_address(self.address)


# ---------------------------------------------------------------- the file


def _fail(where: str, value: object, problem: str, accepted: str) -> GuidPoolError:
    shown = json.dumps(value)[:80] if not isinstance(value, str) else repr(value[:80])
    return GuidPoolError(f"{where}: {shown} {problem}; accepted: {accepted}")


def _guid_field(where: str, value: object) -> int:
    guid = parse_guid(value)
    if guid is None:
        raise _fail(where, value, "is not a GUID", GUID_FORM)
    if guid == 0:
        raise _fail(where, value, "is the unset GUID", "any GUID but 00:00:00:00:00:00:00:00")
    return guid


def _range(where: str, entry: Mapping[str, Any]) -> tuple[int, int] | None:
    """``guidsRange: {start, end}`` (upstream today) or ``rangeStart``/``rangeEnd`` (upstream before)."""
    nested, flat = entry.get("guidsRange"), ("rangeStart" in entry or "rangeEnd" in entry)
    if nested is not None and flat:
        raise GuidPoolError(f"{where}: guidsRange and rangeStart/rangeEnd; accepted: one of the two forms")
    if nested is None and not flat:
        return None
    if nested is not None and not (isinstance(nested, dict) and set(nested) <= {"start", "end"}):
        raise _fail(f"{where}.guidsRange", nested, "is not a range", '{"start": GUID, "end": GUID}')
    named = (
        {"start": ("guidsRange.start", nested.get("start")), "end": ("guidsRange.end", nested.get("end"))}
        if isinstance(nested, dict)
        else {"start": ("rangeStart", entry.get("rangeStart")), "end": ("rangeEnd", entry.get("rangeEnd"))}
    )
    ends = {}
    for end, (field, value) in named.items():
        if value is None:
            raise GuidPoolError(f"{where}.{field}: missing; accepted: both ends of the range, {GUID_FORM}")
        ends[end] = _guid_field(f"{where}.{field}", value)
    if ends["end"] < ends["start"]:
        raise _fail(
            f"{where}.{named['end'][0]}", named["end"][1], "is below the range's start", "end >= start"
        )
    return ends["start"], ends["end"]


def _guid_list(where: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(
            f"{where}.guids", value, "is not a list of GUIDs", f"a non-empty list of GUIDs, {GUID_FORM}"
        )
    guids: dict[int, None] = {}  # in file order, each looked up at once
    for number, item in enumerate(value):
        guid = _guid_field(f"{where}.guids[{number}]", item)
        if guid in guids:
            raise _fail(f"{where}.guids[{number}]", item, "is listed twice", "each GUID once")
        guids[guid] = None
    return tuple(guids)


def _entry(where: str, entry: object) -> PoolEntry:
    if not isinstance(entry, dict):
        raise _fail(where, entry, "is not an object", "{pciAddress|pfGuid, guids|guidsRange}")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", unknown[0], "is not a field", ", ".join(ENTRY_KEYS))
    pci, pf_guid = entry.get("pciAddress"), entry.get("pfGuid")
    if (pci is None) == (pf_guid is None):
        given = "both" if pci is not None else "neither"
        raise GuidPoolError(
            f"{where}: {given} of pciAddress and pfGuid; accepted: exactly one, naming the PF"
        )
    if pci is not None and not is_pci_address(pci):
        raise _fail(f"{where}.pciAddress", pci, "is not a PCI address", PCI_ADDRESS_FORM)
    if pf_guid is not None and not pf_guid_value(pf_guid):
        raise _fail(f"{where}.pfGuid", pf_guid, "is not a GUID", f"{GUID_FORM}, or the PF's IPoIB address")
    span = _range(where, entry)
    if span is not None and "guids" in entry:
        raise GuidPoolError(f"{where}: guids and a range; accepted: a guids list or a range, not both")
    if span is None:
        return PoolEntry(where, pci, pf_guid, guids=_guid_list(where, entry.get("guids")))
    return PoolEntry(where, pci, pf_guid, first=span[0], last=span[1])


def _check_disjoint(entries: Sequence[PoolEntry]) -> None:
    """No PF named twice, no GUID in two entries: a GUID would otherwise go to two VFs."""
    names: dict[str | int | None, str] = {}
    for entry in entries:
        name = entry.pci_address or pf_guid_value(entry.pf_guid)
        if name in names:
            shown = entry.pci_address or entry.pf_guid
            raise _fail(entry.where, shown, f"names the PF of {names[name]} again", "one entry per PF")
        names[name] = entry.where
    spans = sorted((span, entry.where) for entry in entries for span in entry.spans())
    reach, holder = -1, ""  # the highest GUID seen so far, and whose it is
    for (first, last), where in spans:
        if first <= reach and where != holder:
            raise _fail(
                where, format_guid(first), f"is also a GUID of {holder}", "entries without shared GUIDs"
            )
        if last > reach:
            reach, holder = last, where


def parse_guid_file(text: str, path: str) -> GuidFile:
    """The GUID file; GuidPoolError naming the entry, the field, the value and what is accepted."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise GuidPoolError(
            f"{path}: not JSON ({str(error)[:120]}); accepted: a JSON list of PF entries"
        ) from None
    if not isinstance(document, list):
        raise _fail(path, document, "is not a list", "a JSON list of {pciAddress|pfGuid, guids|guidsRange}")
    entries = tuple(_entry(f"{path}[{index}]", entry) for index, entry in enumerate(document))
    _check_disjoint(entries)
    return GuidFile(path, entries)


# ---------------------------------------------------------------- assignment


def _shown(guid: int | None) -> str:
    return "unknown" if guid is None else format_guid(guid)


def _from_file(pfs: Sequence[IbPf], file: GuidFile) -> dict[tuple[str, int], int]:
    assigned: dict[tuple[str, int], int] = {}
    for pf in pfs:
        entries = [entry for entry in file.entries if entry.names(pf)]
        if len(entries) > 1:
            raise GuidPoolError(
                f"{file.path}: {entries[0].where} and {entries[1].where} both name PF {pf.pci_address} (by "
                "pciAddress and by pfGuid); accepted: one entry per PF"
            )
        entry = entries[0] if entries else None
        if entry is None:
            raise GuidPoolError(
                f"{file.path}: no entry for PF {pf.pci_address} (port GUID {_shown(pf.port_guid)}), whose "
                "VFs need GUIDs; add one naming its pciAddress or pfGuid"
            )
        for vf_id in pf.vf_ids:
            guid = entry.guid(vf_id)
            if guid is None:
                raise GuidPoolError(
                    f"{entry.where}: GUID pool exhausted for PF {pf.pci_address}: it holds {entry.size} "
                    f"GUIDs, for VFs 0-{entry.size - 1}, but the spec has VF {vf_id} "
                    f"({len(pf.vf_ids)} VFs in groups); add GUIDs to the entry or lower numVfs"
                )
            assigned[(pf.pci_address, vf_id)] = guid
    return assigned


def derived_guid(port_guid: int, vf_id: int, attempt: int = 0) -> int:
    """A locally administered unicast GUID from the PF's port GUID and the VF index (and a retry count)."""
    digest = hashlib.blake2b(f"{port_guid:016x}/{vf_id}/{attempt}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") & ~_LOCAL_UNICAST_CLEAR) | _LOCAL_UNICAST_SET


def _derived(pfs: Sequence[IbPf]) -> dict[tuple[str, int], int]:
    assigned: dict[tuple[str, int], int] = {}
    taken: set[int] = set()
    for pf in sorted(pfs, key=lambda pf: pf.pci_address):
        if pf.port_guid is None:
            raise GuidPoolError(
                f"{pf.pci_address}: no port GUID to derive its VFs' GUIDs from (its IPoIB address is "
                f"{pf.address or 'unknown'}); list its GUIDs in the GUID file"
            )
        for vf_id in sorted(pf.vf_ids):
            attempt, guid = 0, derived_guid(pf.port_guid, vf_id)
            while guid in taken:  # as good as never: derived again, in an order fixed by address and index
                attempt += 1
                guid = derived_guid(pf.port_guid, vf_id, attempt)
            taken.add(guid)
            assigned[(pf.pci_address, vf_id)] = guid
    return assigned


def assign_guids(pfs: Iterable[IbPf], source: GuidSource) -> dict[tuple[str, int], int]:
    """(PF address, VF id) -> its GUID, for every VF of ``pfs``; the same input gives the same GUIDs."""
    wanted = [pf for pf in pfs if pf.vf_ids]
    if not wanted:
        return {}
    if source.problem is not None:
        raise GuidPoolError(source.problem)
    return _from_file(wanted, source.file) if source.file is not None else _derived(wanted)
