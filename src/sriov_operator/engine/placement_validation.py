"""Rules that need a node: one policy against the PFs it selects, and policies against each other.

Messages never contain the node's name: the caller gathers identical problems
across nodes and lists the nodes once (5,000 identical lines help nobody).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations

from sriov_operator.api.models import InterfaceExt
from sriov_operator.engine.device_plugin import resource_flags
from sriov_operator.engine.merge import ranges_overlap
from sriov_operator.engine.nic_models import MELLANOX_MAX_VFS, MELLANOX_VENDOR, NicTable
from sriov_operator.engine.policy_validation import nic_severity, policy_ref, unsupported_nic_hint
from sriov_operator.engine.problems import Problem, error, shown, warning
from sriov_operator.engine.selection import CompiledPolicy, interface_names, pf_name_part

Selection = tuple[CompiledPolicy, Sequence[InterfaceExt]]
SharingOnPf = Callable[[Sequence[tuple[CompiledPolicy, InterfaceExt]]], list[Problem]]


def describe_pf(iface: InterfaceExt) -> str:
    return f"PF {iface.name or '(no netdev)'} ({iface.pci_address})"


def describe_port(iface: InterfaceExt) -> str:
    return f"VM port {iface.name or '(no netdev)'} ({iface.pci_address})"


def _nic_model_problem(
    policy: CompiledPolicy, iface: InterfaceExt, virtual: bool, nics: NicTable, strict_nics: bool
) -> Problem | None:
    if virtual:
        supported = nics.is_supported_vf(iface.vendor, iface.device_id)
        what = "VF model"
    else:
        supported = nics.is_supported_pf(iface.vendor, iface.device_id)
        what = "NIC model"
    if supported:
        return None
    return Problem(
        policy_ref(policy.policy),
        "spec.nicSelector",
        f"selects {describe_pf(iface)} whose {what} {iface.vendor}:{iface.device_id} is not in the "
        f"supported-NIC list; {unsupported_nic_hint(strict_nics)}",
        nic_severity(strict_nics),
    )


def _vf_count_problem(policy: CompiledPolicy, iface: InterfaceExt, virtual: bool) -> Problem | None:
    ref, num_vfs = policy_ref(policy.policy), policy.num_vfs
    if virtual and num_vfs > 1:
        return error(
            ref,
            "spec.numVfs",
            f"{num_vfs} is more than the one PCI function of {describe_port(iface)}; accepted: 1",
        )
    if iface.vendor == MELLANOX_VENDOR and num_vfs > MELLANOX_MAX_VFS:
        return error(
            ref,
            "spec.numVfs",
            f"{num_vfs} is above {MELLANOX_MAX_VFS}, the most a Mellanox "
            f"{describe_pf(iface)} accepts; accepted: 1..{MELLANOX_MAX_VFS}",
        )
    if iface.vendor != MELLANOX_VENDOR and iface.totalvfs is not None and num_vfs > iface.totalvfs:
        return error(
            ref,
            "spec.numVfs",
            f"{num_vfs} is above totalvfs {iface.totalvfs} of "
            f"{describe_pf(iface)}; accepted: 1..{iface.totalvfs}",
        )
    return None


def _externally_managed_problems(policy: CompiledPolicy, iface: InterfaceExt) -> list[Problem]:
    spec, ref, pf = policy.policy.spec, policy_ref(policy.policy), describe_pf(iface)
    problems = []
    if policy.num_vfs > (iface.num_vfs or 0):
        problems.append(
            error(
                ref,
                "spec.numVfs",
                f"{policy.num_vfs} is above the {iface.num_vfs or 0} VFs "
                f"{pf} has now; with externallyManaged the operator creates no VFs, so "
                f"accepted: 1..{iface.num_vfs or 0}",
            )
        )
    if spec.mtu and iface.mtu and spec.mtu > iface.mtu:
        problems.append(
            error(
                ref,
                "spec.mtu",
                f"{spec.mtu} is above the MTU {iface.mtu} of {pf}; with "
                f"externallyManaged the PF is not changed, so accepted: up to {iface.mtu}",
            )
        )
    if spec.link_type and iface.link_type and spec.link_type.lower() != iface.link_type.lower():
        problems.append(
            error(
                ref,
                "spec.linkType",
                f"{spec.link_type!r} differs from the link type "
                f"{iface.link_type!r} of {pf}; with externallyManaged it must match",
            )
        )
    return problems


def validate_policy_on_node(
    policy: CompiledPolicy, selected: Sequence[InterfaceExt], virtual: bool, nics: NicTable, strict_nics: bool
) -> list[Problem]:
    """The policy against every PF it selects on one node (an error means: not applied on that node)."""
    if not selected:
        return []
    ref, spec = policy_ref(policy.policy), policy.policy.spec
    if policy.num_vfs == 0:
        return [
            error(
                ref,
                "spec.numVfs",
                f"0 is not allowed for a policy that selects {describe_pf(selected[0])}; accepted: 1 or more",
            )
        ]
    problems: list[Problem] = []
    for iface in selected:
        port = virtual or bool(iface.net_filter)
        found = [
            _nic_model_problem(policy, iface, port, nics, strict_nics),
            _vf_count_problem(policy, iface, port),
        ]
        if port and spec.e_switch_mode:
            problems.append(
                error(
                    ref,
                    "spec.eSwitchMode",
                    f"{spec.e_switch_mode} cannot be set on {describe_port(iface)}: the eswitch belongs "
                    "to the hypervisor; accepted: empty",
                )
            )
        problems += [p for p in found if p is not None]
        if spec.externally_managed:
            problems += _externally_managed_problems(policy, iface)
        if spec.vdpa_type and iface.vendor != MELLANOX_VENDOR:
            problems.append(
                error(
                    ref,
                    "spec.vdpaType",
                    f"{spec.vdpa_type!r} is only supported on Mellanox "
                    f"(15b3) NICs; {describe_pf(iface)} is vendor {iface.vendor}",
                )
            )
    return problems


def _pair_on_pf(a: CompiledPolicy, b: CompiledPolicy, iface: InterfaceExt) -> list[Problem]:
    pf = describe_pf(iface)
    if a.policy.spec.externally_managed != b.policy.spec.externally_managed:
        return [
            error(
                policy_ref(p.policy),
                "spec.externallyManaged",
                f"differs from policy {o.name!r} on the same {pf}; policies sharing a PF must agree",
            )
            for p, o in ((a, b), (b, a))
        ]
    range_a, range_b = a.explicit_range_for(iface), b.explicit_range_for(iface)
    if range_a and range_b and ranges_overlap(range_a, range_b):
        return [
            error(
                policy_ref(p.policy),
                "spec.nicSelector.pfNames",
                f"VF range {r[0]}-{r[1]} of {pf} overlaps "
                f"range {s[0]}-{s[1]} of policy {o.name!r}; accepted: disjoint ranges",
            )
            for p, o, r, s in ((a, b, range_a, range_b), (b, a, range_b, range_a))
        ]
    if a.priority == b.priority and ranges_overlap(a.vf_range_for(iface), b.vf_range_for(iface)):
        loser, winner = sorted((a, b), key=lambda p: p.name)
        return [
            warning(
                policy_ref(loser.policy),
                "spec.priority",
                f"equal to the priority of policy {winner.name!r} "
                f"and both claim the same VFs of {pf}; {winner.name!r} wins by name order only; give the "
                "one that should win a lower priority number",
            )
        ]
    return []


def _shared_resource_problems(a: CompiledPolicy, b: CompiledPolicy) -> list[Problem]:
    names = ("spec.isRdma", "spec.needVhostNet", "spec.excludeTopology", "spec.deviceType")
    return [
        error(
            policy_ref(p.policy),
            field,
            f"{shown(mine, quote=False)} differs from {shown(theirs, quote=False)} in policy {o.name!r}, "
            "which shares "
            f"resourceName {p.resource_name!r}; the resource is not exposed where both apply",
        )
        for field, value_a, value_b in zip(names, resource_flags(a), resource_flags(b), strict=True)
        if value_a != value_b
        for p, o, mine, theirs in ((a, b, value_a, value_b), (b, a, value_b, value_a))
    ]


def validate_sharing_on_pf(sharing: Sequence[tuple[CompiledPolicy, InterfaceExt]]) -> list[Problem]:
    """Each pair of the policies applied to one PF (``sharing``: (policy, that PF), in apply order)."""
    problems: list[Problem] = []
    for (a, iface), (b, _) in combinations(sharing, 2):
        problems += _pair_on_pf(a, b, iface)
    return problems


def validate_applied_policies(applied: Sequence[CompiledPolicy]) -> list[Problem]:
    """Conflicts between the policies applied to one node that no PF decides: root devices, resource names."""
    by_root: dict[str, list[CompiledPolicy]] = {}
    by_resource: dict[str, list[CompiledPolicy]] = {}
    for policy in applied:
        for root in policy.root_devices:
            by_root.setdefault(root, []).append(policy)
        by_resource.setdefault(policy.resource_name, []).append(policy)
    problems: list[Problem] = []
    for root, policies in by_root.items():
        for a, b in combinations(policies, 2):
            problems += [
                error(
                    policy_ref(p.policy),
                    "spec.nicSelector.rootDevices",
                    f"{root!r} is also listed by policy "
                    f"{o.name!r}; a root device may belong to one policy only",
                )
                for p, o in ((a, b), (b, a))
            ]
    for policies in by_resource.values():
        distinct = {resource_flags(p): p for p in policies}
        for a, b in combinations(distinct.values(), 2):
            problems += _shared_resource_problems(a, b)
    return problems


def validate_policies_together(
    selections: Sequence[Selection],
    on_pf: SharingOnPf = validate_sharing_on_pf,
    on_policies: Callable[[Sequence[CompiledPolicy]], list[Problem]] = validate_applied_policies,
) -> list[Problem]:
    """Conflicts between the policies applied to one node: shared PFs, root devices, resource names.

    ``on_pf``, ``on_policies``: :func:`validate_sharing_on_pf`, :func:`validate_applied_policies`, or
    functions giving the same answers (memos).
    """
    by_pf: dict[str, list[tuple[CompiledPolicy, InterfaceExt]]] = {}
    for policy, selected in selections:
        for iface in selected:
            by_pf.setdefault(iface.pci_address, []).append((policy, iface))
    problems: list[Problem] = []
    for sharing in by_pf.values():
        if len(sharing) > 1:
            problems += on_pf(sharing)
    return problems + on_policies([policy for policy, _ in selections])


def pf_names_selecting_nothing(
    policy: CompiledPolicy,
    selected: frozenset[str],
    discovered: Mapping[str, Sequence[InterfaceExt]],
    stands_for: Mapping[str, Sequence[str]] | None = None,
) -> list[Problem]:
    """pfNames entries naming no interface (by name or altName) of any node the policy selects.

    ``selected``: the managed nodes the policy selects; ``discovered``: each discovered node's
    interfaces (a node missing from it is not discovered yet).  Upstream refuses such a policy
    ("no supported NIC is selected by the nicSelector"); so do we once every selected node is
    discovered, since a typo would otherwise configure nothing, silently.  While discovery is
    pending the name may still appear, so it is a warning.  The search stops when every name is
    found: on a fleet, most are found on the first node.  ``stands_for``: a node here stands for
    the alike nodes it names (see `render.render_nodes`); the counts in the messages are of them all.
    """
    if not policy.pf_names:
        return []
    pending = selected.difference(discovered)
    if len(pending) == len(selected):
        return []  # nothing discovered: the nodes' own "not discovered yet" warnings say it
    missing = set(policy.pf_name_parts)
    for node in selected:
        for iface in discovered.get(node, ()):
            missing.difference_update(interface_names(iface))
        if not missing:
            return []

    def members(node: str) -> Sequence[str]:
        return stands_for.get(node, (node,)) if stands_for is not None else (node,)

    selected_count = sum(len(members(node)) for node in selected)
    pending_members = [member for node in pending for member in members(node)]
    problems = []
    for index, entry in enumerate(policy.pf_names):
        name = pf_name_part(entry)
        if name not in missing:
            continue
        field = f"spec.nicSelector.pfNames[{index}]"
        if pending:
            message = (
                f"{name} names no interface of the discovered nodes it selects; accepted for now, since "
                f"{len(pending_members)} selected node(s) are not discovered yet "
                f"(first: {min(pending_members)})"
            )
            problems.append(warning(policy_ref(policy.policy), field, message))
        else:
            message = (
                f"{name} names no interface (name or altName) of the {selected_count} node(s) the "
                "policy selects, so no NIC is selected by it; accepted: a PF name that "
                "SriovNetworkNodeState status.interfaces lists"
            )
            problems.append(error(policy_ref(policy.policy), field, message))
    return problems
