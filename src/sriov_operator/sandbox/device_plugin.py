"""The sandbox's stand-in for the SR-IOV device plugin: how many devices each resource has (pure).

No kubelet or device plugin runs in the sandbox, so the sandbox publishes each
worker's resources itself, as the device plugin would through the kubelet: it
reads the resource list the operator wrote for the node (the ConfigMap the
daemon handed over to the host) and counts the node's devices, as the daemon
discovered them (NodeState status), that the selectors match. Matched: vendors,
devices, pciAddresses, pfNames (with ``#first-last`` VF ranges), rootDevices;
not checked: linkTypes and the vhost-net capability. RDMA is taken from the
config daemon: a resource of a policy the daemon reports unusable on the node
(an ``isRdma`` device without its RDMA driver, the NodeState's unusable-policies
annotation) has no device, as the real plugin finds none with an RDMA device.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sriov_operator.daemon.handoff import config_text, read_device_plugin_config
from sriov_operator.operator.status import unusable_policies


@dataclass(frozen=True)
class Device:
    pci_address: str
    vendor: str
    device_id: str
    pf_name: str = ""  # VFs only
    pf_pci: str = ""  # VFs only
    vf_index: int | None = None


def devices(interfaces: Sequence[Mapping[str, Any]]) -> Iterator[Device]:
    """A PF's VFs, or the port itself when it has none (an OpenStack VM's ports)."""
    for iface in interfaces:
        vfs = iface.get("Vfs") or []
        if not vfs:
            yield Device(iface["pciAddress"], iface.get("vendor") or "", iface.get("deviceID") or "")
        for vf in vfs:
            yield Device(
                vf["pciAddress"],
                vf.get("vendor") or "",
                vf.get("deviceID") or "",
                iface.get("name") or "",
                iface["pciAddress"],
                vf.get("vfID"),
            )


def _pf_name_matches(entry: str, device: Device) -> bool:
    name, _, vf_range = entry.partition("#")
    if not device.pf_name or name != device.pf_name:
        return False
    if not vf_range:
        return True
    first, _, last = vf_range.partition("-")
    return device.vf_index is not None and int(first) <= device.vf_index <= int(last or first)


def _selector_matches(key: str, values: Sequence[str], device: Device) -> bool:
    if key == "pfNames":
        return any(_pf_name_matches(entry, device) for entry in values)
    attribute = {
        "vendors": device.vendor,
        "devices": device.device_id,
        "pciAddresses": device.pci_address,
        "rootDevices": device.pf_pci,
    }.get(key)
    return attribute is None or attribute in values  # a selector we do not check matches everything


def matches(selectors: Mapping[str, Any], device: Device) -> bool:
    """Every non-empty list selector matches (the flags, e.g. ``isRdma``, are not checked)."""
    return all(
        _selector_matches(key, values, device)
        for key, values in selectors.items()
        if isinstance(values, list) and values
    )


def unusable_resources(state: Mapping[str, Any] | None) -> frozenset[str]:
    """resourceNames of the node's VF groups whose policy the daemon reports unusable there."""
    unusable = unusable_policies(state)
    interfaces = ((state or {}).get("spec") or {}).get("interfaces") or []
    return frozenset(
        str(group.get("resourceName"))
        for iface in interfaces
        for group in iface.get("vfGroups") or []
        if group.get("policyName") in unusable
    )


def advertised_resources(
    config_json: str, interfaces: Sequence[Mapping[str, Any]], unusable: frozenset[str] = frozenset()
) -> dict[str, int]:
    """``<prefix>/<resourceName>`` -> device count, for a node's resource list and discovered devices;
    a resource in ``unusable`` counts none."""
    found = list(devices(interfaces))
    counts = {}
    for resource in json.loads(config_json).get("resourceList") or []:
        name = f"{resource['resourcePrefix']}/{resource['resourceName']}"
        selectors = resource.get("selectors") or {}
        usable = resource["resourceName"] not in unusable
        counts[name] = sum(1 for d in found if usable and matches(selectors, d))
    return counts


def capacity_patch(node: Mapping[str, Any], counts: Mapping[str, int], prefix: str) -> dict[str, Any] | None:
    """The node status patch publishing ``counts`` (dropping ``prefix`` resources no longer listed); None if
    the node already shows them."""
    status = node.get("status") or {}
    changes: dict[str, Any] = {}
    for field in ("capacity", "allocatable"):
        current = {k: v for k, v in (status.get(field) or {}).items() if k.startswith(f"{prefix}/")}
        wanted = {k: str(v) for k, v in counts.items()}
        if current != wanted:
            changes[field] = {**dict.fromkeys(current), **wanted}
    return {"status": changes} if changes else None


def handed_over_resources(
    configmap: Mapping[str, Any] | None, state: Mapping[str, Any] | None
) -> dict[str, int] | None:
    """What the node's device plugin advertises once the daemon has handed it its config; None before.
    ``state``: the node's NodeState (its discovered devices, and what the daemon reports unusable)."""
    config = read_device_plugin_config(configmap)
    if config is None or config.handed_over != config.digest:
        return None
    text = config_text(configmap or {})
    assert text is not None
    interfaces = ((state or {}).get("status") or {}).get("interfaces") or []
    return advertised_resources(text, interfaces, unusable_resources(state))
