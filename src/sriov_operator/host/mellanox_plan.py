"""Which Mellanox firmware settings the spec needs, and the loop guard: pure rules over what mstconfig said.

Per card (the PFs of one PCI slot share one firmware), from the spec's PFs on it:

- ``SRIOV_EN=True`` and ``NUM_OF_VFS`` at least the largest ``numVfs`` of its ports (the
  firmware's count is what the kernel offers as ``sriov_totalvfs``).  A larger count
  already there is kept: fewer VFs need no reboot (upstream sets the exact count, and
  reboots to lower it).
- ``LINK_TYPE_P<n>`` (port n) as the port's ``linkType`` (ETH or IB), unless the port
  already runs that protocol.

A setting the firmware does not run with now is set for the next firmware load and
needs a reboot (with the mellanoxFirmwareReset feature gate, ``mstfwreset`` first, as
upstream); a setting it runs with but would lose at the next load is set again without
one.  Loop guard: a setting asked for before the last reboot that the firmware still
does not run with means the reboot did not reload the firmware; another would not
either, so the plan is refused with the values.  A firmware that cannot be read
(lockdown, no mstconfig, an error) refuses only what needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sriov_operator.api.models import Interface, InterfaceExt, SriovNetworkNodeStateSpec
from sriov_operator.api.platforms import is_virtual
from sriov_operator.host.actions import Action, Reboot, Requirement, ResetFirmware, SetFirmwareConfig
from sriov_operator.host.mellanox import (
    FIRMWARE_RECORD,
    LINK_TYPE,
    LINK_TYPES,
    NUM_OF_VFS,
    PARAMETERS,
    SRIOV_EN,
    FirmwareConfig,
    FirmwareError,
    FirmwareFacts,
    mellanox_cards,
)
from sriov_operator.host.state import HostState

GUARD_ADVICE = (
    "a warm reboot may leave the card's firmware running: power-cycle the node, or turn on the "
    "mellanoxFirmwareReset feature gate; then remove /" + FIRMWARE_RECORD + " to let the operator try again"
)


@dataclass(frozen=True)
class FirmwarePlan:
    actions: tuple[Action, ...] = ()
    reboot_for: tuple[str, ...] = ()  # ``<pf> NAME=VALUE`` the next boot must load


@dataclass(frozen=True)
class _Port:
    number: int  # 1-based port of the card (LINK_TYPE_P<n>)
    entry: Interface
    found: InterfaceExt

    @property
    def label(self) -> str:
        pf = self.found
        return f"{pf.pci_address} ({pf.name})" if pf.name else pf.pci_address


def _holds(name: str, have: str | None, want: str) -> bool:
    """The firmware's value gives what the spec needs (NUM_OF_VFS: at least as many VFs)."""
    if name == NUM_OF_VFS:
        return have is not None and have.isdigit() and int(have) >= int(want)
    return have == want


def _link_type(port: _Port) -> str | None:
    """ETH or IB the spec asks of the port, None when it asks nothing the port does not run already."""
    wanted = (port.entry.link_type or "").upper()
    if not wanted or wanted == (port.found.link_type or "").upper():
        return None
    if wanted not in LINK_TYPES:
        raise FirmwareError(
            f"{port.label}: linkType {port.entry.link_type!r} is not a link type; accepted: ETH, IB"
        )
    return wanted


def _needed(ports: list[_Port]) -> dict[str, str]:
    """Setting -> the value the spec needs the firmware to run with."""
    needed: dict[str, str] = {}
    vfs = max(port.entry.num_vfs or 0 for port in ports)
    if vfs:
        needed |= {SRIOV_EN: "True", NUM_OF_VFS: str(vfs)}
    for port in ports:
        if (link := _link_type(port)) is not None and port.number <= len(LINK_TYPE):
            needed[LINK_TYPE[port.number - 1]] = link
    return needed


def _unreadable(first: str, ports: list[_Port], problem: str) -> None:
    """Without the firmware's settings, refuse only what the host shows needs them."""
    for port in ports:
        wanted, offered = port.entry.num_vfs or 0, port.found.totalvfs or 0
        if wanted > offered:
            raise FirmwareError(
                f"{port.label}: numVfs {wanted} is more than the {offered} VFs its firmware offers now; "
                f"raising NUM_OF_VFS on {first} needs its firmware settings, and {problem}"
            )
        if (link := _link_type(port)) is not None and port.found.link_type:  # no netdev: cannot tell
            raise FirmwareError(
                f"{port.label}: linkType {link}, the port runs {port.found.link_type}; changing "
                f"LINK_TYPE_P{port.number} on {first} needs its firmware settings, and {problem}"
            )


def _guard(first: str, facts: FirmwareFacts, config: FirmwareConfig, changing: Iterable[str]) -> None:
    asked = facts.asked.get(first)
    if asked is None or asked.in_this_boot:
        return
    for name in changing:
        value = asked.values.get(name)
        if value is not None and not _holds(name, config.current(name), value):
            raise FirmwareError(
                f"firmware of {first} still has {name}={config.current(name)} after a reboot that should "
                f"have made it {value}; not rebooting again ({GUARD_ADVICE})"
            )


def _card(first: str, pfs: list[str], ports: list[_Port], facts: FirmwareFacts) -> FirmwarePlan:
    """``pfs``: every PF of the card (their VFs go before a reset); ``ports``: those in the spec."""
    needed = _needed(ports)
    if not needed:
        return FirmwarePlan()
    read = facts.cards.get(first)
    if read is None:  # not looked at (``diff`` prices a change from a NodeState's status alone)
        return FirmwarePlan()
    if read.config is None:
        _unreadable(first, ports, read.problem or "they could not be read")
        return FirmwarePlan()
    config = read.config
    for name in needed:
        if name not in config.settings:
            label = next((p.label for p in ports if name == LINK_TYPE[p.number - 1]), first)
            raise FirmwareError(
                f"{label}: the firmware of {first} has no {name} setting, so the port's protocol "
                f"cannot be changed; accepted: the linkType the port runs ({ports[0].found.link_type})"
            )
    at_boot = {n: v for n, v in needed.items() if not _holds(n, config.current(n), v)}
    keep = {n: v for n, v in needed.items() if n not in at_boot and not _holds(n, config.next_boot(n), v)}
    keep = {n: (config.current(n) or v) if n == NUM_OF_VFS else v for n, v in keep.items()}
    if at_boot and (managed := next((p for p in ports if p.entry.externally_managed), None)):
        name, value = next(iter(at_boot.items()))
        raise FirmwareError(
            f"{managed.label}: externally managed, but its firmware runs {name}={config.current(name)} and "
            f"the spec needs {value}; change the firmware outside the operator or drop externallyManaged"
        )
    _guard(first, facts, config, at_boot)
    to_set = {n: v for n, v in at_boot.items() if not _holds(n, config.next_boot(n), v)} | keep
    if not to_set and not at_boot:
        return FirmwarePlan()
    shown = ", ".join(f"{n} {config.current(n)} -> {v}" for n, v in {**at_boot, **keep}.items())
    actions: list[Action] = []
    if to_set and not any(p.entry.externally_managed for p in ports):
        when = "loaded at the next boot" if at_boot else "runs now but would be lost at the next boot"
        values = tuple((n, to_set[n]) for n in PARAMETERS if n in to_set)
        reason = f"{ports[0].label}: card firmware {shown} ({when}) for the spec's ports"
        requires: Requirement = "reboot" if at_boot else "none"
        actions.append(SetFirmwareConfig(first, values, requires=requires, reason=reason))
    if at_boot and facts.reset_allowed:
        reason = f"{ports[0].label}: mellanoxFirmwareReset: reload the firmware, so the reboot runs {shown}"
        actions.append(ResetFirmware(first, tuple(pfs), reason=reason))
    return FirmwarePlan(tuple(actions), tuple(f"{first} {n}={v}" for n, v in at_boot.items()))


def firmware_plan(desired: SriovNetworkNodeStateSpec, host: HostState) -> FirmwarePlan:
    """The firmware changes of every Mellanox card with a PF in the spec (bare metal only)."""
    if is_virtual(host.platform):
        return FirmwarePlan()
    found = {pf.pci_address: pf for pf in host.interfaces}
    wanted = {entry.pci_address: entry for entry in desired.interfaces or []}
    actions: list[Action] = []
    reboot_for: list[str] = []
    for first, pfs in mellanox_cards((pf.pci_address, pf.vendor) for pf in host.interfaces).items():
        ports = [_Port(n, wanted[pci], found[pci]) for n, pci in enumerate(pfs, 1) if pci in wanted]
        if ports:
            card = _card(first, pfs, ports, host.firmware)
            actions += card.actions
            reboot_for += card.reboot_for
    return FirmwarePlan(tuple(actions), tuple(reboot_for))


def with_firmware_reboot(boot_actions: list[Action], firmware: FirmwarePlan, waiting: bool) -> list[Action]:
    """The kernel arguments' actions and the firmware's, with one reboot for both."""
    if not firmware.reboot_for:
        return boot_actions
    note = "requested in this boot: waiting for it" if waiting else "the rest follows after it"
    why = f"the firmware loads {', '.join(firmware.reboot_for)} only at boot; {note}"
    kept = [action for action in boot_actions if not isinstance(action, Reboot)]
    reboot = next((action for action in boot_actions if isinstance(action, Reboot)), None)
    if reboot is None:
        reboot = Reboot(args=(), firmware=firmware.reboot_for, reason=why)
    else:
        reboot = replace(reboot, firmware=firmware.reboot_for, reason=f"{reboot.reason}; {why}")
    return [*kept, *firmware.actions, reboot]
