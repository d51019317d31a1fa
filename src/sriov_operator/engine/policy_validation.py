"""Static rules for one SriovNetworkNodePolicy (no nodes needed).

The schema (enums, bounds, resourceName pattern) is checked when the object is
parsed; these are the rules that look at several fields together.
"""

from __future__ import annotations

from functools import lru_cache

from sriov_operator.api.models import SriovNetworkNodePolicy
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.nic_models import NicTable
from sriov_operator.engine.problems import Problem, Severity, error, shown, warning
from sriov_operator.engine.selection import parse_net_filter, parse_vf_range, pf_name_part

KNOWN_NET_FILTER_KEYS = ("openstack/NetworkID", "aws/NetworkID")


def policy_ref(policy: SriovNetworkNodePolicy) -> ObjectRef:
    return _ref(policy.kind, policy.namespace, policy.name)


@lru_cache(maxsize=4096)
def _ref(kind: str, namespace: str, name: str) -> ObjectRef:
    """Refs are immutable; the render asks for a policy's ref on every node it validates."""
    return ObjectRef(kind=kind, namespace=namespace, name=name)


def nic_severity(strict_nics: bool) -> Severity:
    return "error" if strict_nics else "warning"


def unsupported_nic_hint(strict_nics: bool) -> str:
    hint = "add it to the supported-nic-ids ConfigMap as '<label>: \"<vendor> <PF id> <VF id>\"'"
    return hint if strict_nics else hint + " (accepted anyway; --strict-nics makes this an error)"


def _net_filter_problems(policy: SriovNetworkNodePolicy) -> list[Problem]:
    spec, ref = policy.spec, policy_ref(policy)
    selector = spec.nic_selector
    net_filter = selector.net_filter or ""
    problems = []
    parsed = parse_net_filter(net_filter)
    if parsed is None:
        problems.append(
            error(
                ref,
                "spec.nicSelector.netFilter",
                f"{net_filter!r} is not '<key>:<value>'; accepted e.g. "
                "'openstack/NetworkID:<neutron network uuid>' or 'aws/NetworkID:<subnet id>'",
            )
        )
    elif parsed[0] not in KNOWN_NET_FILTER_KEYS:
        problems.append(
            warning(
                ref,
                "spec.nicSelector.netFilter",
                f"key {parsed[0]!r} is unknown; discovery only reports "
                f"{' and '.join(KNOWN_NET_FILTER_KEYS)}, so this policy will match nothing",
            )
        )
    combined = [
        name
        for name, value in (
            ("vendor", selector.vendor),
            ("deviceID", selector.device_id),
            ("pfNames", selector.pf_names),
            ("rootDevices", selector.root_devices),
        )
        if value
    ]
    if combined:
        problems.append(
            error(
                ref,
                "spec.nicSelector",
                f"netFilter cannot be combined with {', '.join(combined)}; "
                "on virtual platforms select by netFilter alone",
            )
        )
    for name, value in (("spec.eSwitchMode", spec.e_switch_mode), ("spec.bridge", spec.bridge)):
        if value:
            problems.append(
                error(
                    ref,
                    name,
                    f"must be empty with netFilter (got {shown(value)}); the eswitch of a "
                    "virtual platform belongs to the hypervisor",
                )
            )
    if spec.link_type and spec.link_type.lower() != "eth":
        problems.append(
            error(
                ref,
                "spec.linkType",
                f"{spec.link_type!r} is not allowed with netFilter; accepted: empty or 'eth'",
            )
        )
    return problems


def _pf_name_problems(policy: SriovNetworkNodePolicy) -> list[Problem]:
    problems = []
    for index, entry in enumerate(policy.spec.nic_selector.pf_names or []):
        field = f"spec.nicSelector.pfNames[{index}]"
        if not pf_name_part(entry):
            problems.append(error(policy_ref(policy), field, f"{entry!r} has no PF name before '#'"))
            continue
        try:
            vf_range = parse_vf_range(entry)
        except ValueError as exc:
            problems.append(error(policy_ref(policy), field, f"{entry!r}: {exc}"))
            continue
        if vf_range and vf_range[1] >= policy.spec.num_vfs:
            problems.append(
                error(
                    policy_ref(policy),
                    field,
                    f"{entry!r}: last VF {vf_range[1]} is not below numVfs "
                    f"{policy.spec.num_vfs}; accepted: VF indexes 0..{policy.spec.num_vfs - 1}",
                )
            )
    return problems


def _device_problems(policy: SriovNetworkNodePolicy, nics: NicTable, strict_nics: bool) -> list[Problem]:
    selector = policy.spec.nic_selector
    if nics.is_supported_pf(selector.vendor, selector.device_id):
        return []
    model = ":".join(v or "*" for v in (selector.vendor, selector.device_id))
    field = "spec.nicSelector.deviceID" if selector.device_id else "spec.nicSelector.vendor"
    message = f"NIC model {model} is not in the supported-NIC list; {unsupported_nic_hint(strict_nics)}"
    if policy.spec.num_vfs and selector.device_id:
        message += "; its VF device id is unknown, so the device plugin's 'devices' selector is left out"
    return [Problem(policy_ref(policy), field, message, nic_severity(strict_nics))]


def _combination_problems(policy: SriovNetworkNodePolicy) -> list[Problem]:
    spec, ref = policy.spec, policy_ref(policy)
    problems = []
    if spec.device_type == "vfio-pci" and spec.is_rdma:
        problems.append(
            error(
                ref,
                "spec.isRdma",
                "true is not allowed with deviceType 'vfio-pci' (a DPDK "
                "device has no RDMA netdevice); accepted: isRdma false, or deviceType 'netdevice'",
            )
        )
    if spec.e_switch_mode == "switchdev" and spec.link_type and spec.link_type.lower() != "eth":
        problems.append(
            error(
                ref,
                "spec.linkType",
                f"{spec.link_type!r} is not allowed with eSwitchMode 'switchdev'; accepted: empty or 'eth'",
            )
        )
    if spec.vdpa_type and (spec.device_type != "netdevice" or spec.e_switch_mode != "switchdev"):
        problems.append(
            error(
                ref,
                "spec.vdpaType",
                f"{spec.vdpa_type!r} needs deviceType 'netdevice' and "
                f"eSwitchMode 'switchdev' (got deviceType {shown(spec.device_type)}, "
                f"eSwitchMode {shown(spec.e_switch_mode or '')})",
            )
        )
    if spec.bridge and spec.e_switch_mode != "switchdev":
        problems.append(
            error(
                ref, "spec.bridge", f"needs eSwitchMode 'switchdev' (got {shown(spec.e_switch_mode or '')})"
            )
        )
    if spec.bridge and spec.externally_managed:
        problems.append(error(ref, "spec.bridge", "is not allowed with externallyManaged: true"))
    return problems


def validate_policy_static(
    policy: SriovNetworkNodePolicy, nics: NicTable, strict_nics: bool
) -> list[Problem]:
    """Every rule that needs only the policy (and the supported-NIC list)."""
    selector = policy.spec.nic_selector
    if not (
        selector.vendor
        or selector.device_id
        or selector.pf_names
        or selector.root_devices
        or selector.net_filter
    ):
        return [
            error(
                policy_ref(policy),
                "spec.nicSelector",
                "selects nothing; set at least one of vendor, deviceID, pfNames, rootDevices or netFilter",
            )
        ]
    problems = _pf_name_problems(policy) + _combination_problems(policy)
    if selector.net_filter:
        problems += _net_filter_problems(policy)
    else:
        problems += _device_problems(policy, nics, strict_nics)
    return problems
