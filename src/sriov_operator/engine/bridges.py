"""NodeState ``spec.bridges`` from the policies' ``bridge`` field, behind the manageSoftwareBridges gate.

Upstream's rule, kept: each selected PF gets the bridge of the last policy applied to
it (apply order: priority, then name); a later policy without ``bridge`` takes it away.
The bridge is named after the PF's PCI address (``br-0000_3b_00.0``), has the PF as its
one uplink, and the policy's ``mtu`` becomes the uplink's ``mtuRequest``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sriov_operator.api.models import (
    InterfaceExt,
    OVSInterfaceConfig,
    SriovNetworkNodePolicy,
    SriovOperatorConfig,
)
from sriov_operator.engine.policy_validation import policy_ref
from sriov_operator.engine.problems import Problem, warning
from sriov_operator.engine.selection import CompiledPolicy

MANAGE_SOFTWARE_BRIDGES = "manageSoftwareBridges"


def software_bridges_enabled(config: SriovOperatorConfig | None) -> bool:
    """The gate is off unless the default SriovOperatorConfig turns it on, as upstream."""
    gates = (config.spec.feature_gates if config is not None else None) or {}
    return gates.get(MANAGE_SOFTWARE_BRIDGES, False)


def bridge_gate_off(policy: SriovNetworkNodePolicy) -> Problem:
    """A policy's bridge while the gate is off: said, not silently dropped."""
    return warning(
        policy_ref(policy),
        "spec.bridge",
        f"ignored: the {MANAGE_SOFTWARE_BRIDGES} feature gate is off "
        "(SriovOperatorConfig default, spec.featureGates), so no bridge is created",
    )


def bridge_name(pci_address: str) -> str:
    return "br-" + pci_address.replace(":", "_")


def _bridge(policy: CompiledPolicy, iface: InterfaceExt) -> dict[str, Any] | None:
    spec = policy.policy.spec
    ovs = spec.bridge.ovs if spec.bridge is not None else None
    if ovs is None:
        return None
    interface = (ovs.uplink.interface if ovs.uplink else None) or OVSInterfaceConfig()
    if spec.mtu:
        interface = interface.model_copy(update={"mtu_request": spec.mtu})
    uplink = {"pciAddress": iface.pci_address, "name": iface.name, "interface": interface.to_k8s() or None}
    bridge = {"name": bridge_name(iface.pci_address), "bridge": ovs.bridge.to_k8s() if ovs.bridge else None}
    return {k: v for k, v in {**bridge, "uplinks": [{k: v for k, v in uplink.items() if v}]}.items() if v}


def ovs_bridges(selections: Sequence[tuple[CompiledPolicy, Sequence[InterfaceExt]]]) -> list[dict[str, Any]]:
    """``spec.bridges.ovs`` in upstream JSON, sorted by name; ``selections`` in apply order."""
    by_pf: dict[str, dict[str, Any] | None] = {}
    for policy, selected in selections:
        for iface in selected:
            by_pf[iface.pci_address] = _bridge(policy, iface)
    return sorted((b for b in by_pf.values() if b is not None), key=lambda b: str(b["name"]))
