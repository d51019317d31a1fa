"""The supported-NIC table: which vendor/device ids we know, and PF id → VF id."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from sriov_operator.api.supported_nics import DEFAULT_SUPPORTED_NICS, SupportedNic, parse_supported_nics

MELLANOX_VENDOR = "15b3"
MELLANOX_MAX_VFS = 128


@dataclass(frozen=True)
class NicTable:
    nics: tuple[SupportedNic, ...]
    _vf_by_pf: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False)
    _vfs: frozenset[tuple[str, str]] = field(init=False, repr=False, compare=False)
    _vendors: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_vf_by_pf", {(n.vendor, n.pf_device_id): n.vf_device_id for n in self.nics})
        object.__setattr__(self, "_vfs", frozenset((n.vendor, n.vf_device_id) for n in self.nics))
        object.__setattr__(self, "_vendors", frozenset(n.vendor for n in self.nics))

    def vf_device_id(self, vendor: str | None, pf_device_id: str) -> str | None:
        """The VF device id of a PF model; without a vendor, any vendor's PF with that id."""
        if vendor:
            return self._vf_by_pf.get((vendor, pf_device_id))
        return next((vf for (_, pf), vf in self._vf_by_pf.items() if pf == pf_device_id), None)

    def is_supported_pf(self, vendor: str | None, device_id: str | None) -> bool:
        if vendor and device_id:
            return (vendor, device_id) in self._vf_by_pf
        if vendor:
            return vendor in self._vendors
        if device_id:
            return any(pf == device_id for _, pf in self._vf_by_pf)
        return True

    def is_supported_vf(self, vendor: str | None, device_id: str | None) -> bool:
        return (vendor or "", device_id or "") in self._vfs


@functools.cache
def _default_table() -> NicTable:
    """Parsed once per process: every render (each webhook review) starts from it."""
    by_label = {n.label: n for n in parse_supported_nics(DEFAULT_SUPPORTED_NICS)}
    return NicTable(tuple(by_label[label] for label in sorted(by_label)))


def nic_table(extra: Iterable[SupportedNic] = ()) -> NicTable:
    """The default list extended (or, for the same label, overridden) by ``extra``."""
    default = _default_table()
    by_label = {n.label: n for n in extra}
    if not by_label:
        return default
    return NicTable(
        tuple(sorted({**{n.label: n for n in default.nics}, **by_label}.values(), key=lambda n: n.label))
    )
