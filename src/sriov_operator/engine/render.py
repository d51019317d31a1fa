"""Cluster objects → everything the operator writes, plus every problem found.

The work is a map over managed nodes: each node's result depends only on its
labels, its NodeState status, the policies and the pools.  So a changed policy
needs only the nodes it selects or selected before re-rendered:
:func:`policy_index` before the change, :func:`nodes_affected_by_policy_change`
after it, then :func:`render_nodes` for that subset.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sriov_operator.api.models import InterfaceExt, RdmaMode, SriovNetworkNodeState
from sriov_operator.api.refs import ObjectRef
from sriov_operator.api.supported_nics import SupportedNic, SupportedNicError, parse_supported_nic
from sriov_operator.engine.bridges import bridge_gate_off, ovs_bridges, software_bridges_enabled
from sriov_operator.engine.cycles import cycle_collector_paused
from sriov_operator.engine.device_plugin import ResourceLists, owned_pci_addresses
from sriov_operator.engine.inputs import ClusterObjects, Node
from sriov_operator.engine.merge import appliers_by_pf, merge_on_pf, node_state_spec
from sriov_operator.engine.nad import render_nad, target_namespace
from sriov_operator.engine.nic_models import NicTable, nic_table
from sriov_operator.engine.node_shape import NodeRender, PfMemo, ordered_by_address
from sriov_operator.engine.object_validation import (
    pool_membership_problems,
    validate_network,
    validate_operator_config,
    validate_pool,
)
from sriov_operator.engine.placement_validation import (
    Selection,
    pf_names_selecting_nothing,
    validate_policies_together,
    validate_policy_on_node,
    validate_sharing_on_pf,
)
from sriov_operator.engine.policy_validation import policy_ref, validate_policy_static
from sriov_operator.engine.problems import Problem, error, shown, split_by_severity, warning
from sriov_operator.engine.selection import (
    CompiledPolicy,
    PoliciesByNodeSelector,
    PoliciesByPf,
    compile_policy,
    config_daemon_node_selector,
    labels_match,
    pools_of_node,
)

NODES_NAMED_IN_A_MESSAGE = 5


@dataclass(frozen=True)
class Prepared:
    """Everything shared by all nodes, computed once per render."""

    cluster: ClusterObjects
    resource_prefix: str
    strict_nics: bool
    nics: NicTable
    policies: tuple[CompiledPolicy, ...]  # statically valid, in apply order
    managed_nodes: Mapping[str, Node]
    rdma_mode_by_node: Mapping[str, RdmaMode]
    problems: tuple[Problem, ...]
    by_node_selector: PoliciesByNodeSelector
    by_pf: PoliciesByPf
    root_device_addresses: frozenset[str]  # listed in some policy's rootDevices
    pf_memo: PfMemo  # shared by the nodes rendered with this preparation
    resource_lists: ResourceLists
    manage_bridges: bool = False  # the manageSoftwareBridges feature gate: policies' bridges are rendered

    def policies_selecting(self, labels: Mapping[str, str]) -> tuple[int, ...]:
        """Indexes into ``policies`` (so in apply order) of those whose nodeSelector matches."""
        return self.by_node_selector.selecting(labels)


@dataclass
class RenderResult:
    node_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    device_plugin: dict[str, dict[str, Any]] = field(default_factory=dict)
    network_attachment_definitions: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    configuring: dict[str, frozenset[str] | None] = field(default_factory=dict)
    """Node -> the policies that configure a device there (None: not discovered); see ``coverage``."""
    selected: dict[str, frozenset[str]] = field(default_factory=dict)
    """Policy -> the managed nodes it selects (``render_cluster`` only)."""

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def to_output(self, loader_warnings: Iterable[str] = ()) -> dict[str, Any]:
        """The ``render`` command's document."""
        errors, warnings = split_by_severity(self.problems)
        return {
            "nodeStates": self.node_states,
            "devicePlugin": self.device_plugin,
            "networkAttachmentDefinitions": self.network_attachment_definitions,
            "warnings": [*loader_warnings, *warnings],
            "errors": errors,
        }


def _nic_table(cluster: ClusterObjects) -> tuple[NicTable, list[Problem]]:
    extra: list[SupportedNic] = []
    problems = []
    ref = ObjectRef(kind="ConfigMap", namespace=cluster.operator_namespace, name="supported-nic-ids")
    for label, value in sorted(cluster.supported_nic_data.items()):
        try:
            extra.append(parse_supported_nic(label, value))
        except SupportedNicError as exc:
            problems.append(error(ref, f"data.{label}", f"{exc}; entry ignored"))
    return nic_table(extra), problems


def prepare(cluster: ClusterObjects, *, resource_prefix: str, strict_nics: bool = False) -> Prepared:
    nics, problems = _nic_table(cluster)
    policies = []
    for policy in cluster.policies:
        found = validate_policy_static(policy, nics, strict_nics)
        problems += found
        if not any(p.severity == "error" for p in found):
            policies.append(compile_policy(policy))
    policies.sort(key=lambda p: p.apply_order)
    manage_bridges = software_bridges_enabled(cluster.operator_config)
    if not manage_bridges:
        problems += [bridge_gate_off(policy.policy) for policy in policies if policy.policy.spec.bridge]
    pools = []
    for pool in cluster.pools:
        found = validate_pool(pool)
        problems += found
        if not found:
            pools.append(pool)
    if cluster.operator_config is not None:
        problems += validate_operator_config(cluster.operator_config)
    selector = config_daemon_node_selector(cluster.operator_config)
    managed = {
        name: node for name, node in sorted(cluster.nodes.items()) if labels_match(selector, node.labels)
    }
    pools_by_node = {name: pools_of_node(pools, node.labels) for name, node in managed.items()}
    problems += pool_membership_problems(pools_by_node, cluster.operator_namespace)
    pool_by_name = {pool.name: pool for pool in pools}
    rdma_mode = {
        node: mode
        for node, names in pools_by_node.items()
        if len(names) == 1 and (mode := pool_by_name[names[0]].spec.rdma_mode)
    }
    for name, state in sorted(cluster.node_states.items()):
        if name not in managed:
            problems.append(
                warning(
                    ObjectRef(kind=state.kind, namespace=state.namespace, name=name),
                    "metadata.name",
                    f"there is no managed Node {name!r} (the operator manages nodes labelled "
                    f"{shown(selector)}); ignored",
                )
            )
    return Prepared(
        cluster,
        resource_prefix,
        strict_nics,
        nics,
        tuple(policies),
        managed,
        rdma_mode,
        tuple(problems),
        PoliciesByNodeSelector(policies),
        PoliciesByPf(policies),
        frozenset(address for policy in policies for address in policy.root_devices),
        PfMemo(frozenset(address for policy in policies for address in policy.root_devices)),
        ResourceLists(nics, resource_prefix, policies),
        manage_bridges,
    )


def _gather_across_nodes(
    problems_by_node: Mapping[str, list[Problem]], stands_for: Mapping[str, Sequence[str]] | None = None
) -> list[Problem]:
    """Identical per-node problems become one, naming its nodes (``stands_for``: see render_nodes)."""
    nodes_by_problem: dict[Problem, list[str]] = {}
    for node, problems in problems_by_node.items():
        nodes = stands_for.get(node, (node,)) if stands_for is not None else (node,)
        for problem in dict.fromkeys(problems):
            nodes_by_problem.setdefault(problem, []).extend(nodes)
    gathered = []
    for problem, nodes in nodes_by_problem.items():
        nodes.sort()
        named = ", ".join(nodes[:NODES_NAMED_IN_A_MESSAGE])
        more = (
            f" and {len(nodes) - NODES_NAMED_IN_A_MESSAGE} more"
            if len(nodes) > NODES_NAMED_IN_A_MESSAGE
            else ""
        )
        message = f"{problem.message} (on {len(nodes)} node(s): {named}{more})"
        gathered.append(Problem(problem.ref, problem.field, message, problem.severity))
    return gathered


def _problems_on_pfs(
    prep: Prepared, selected: list[tuple[int, list[InterfaceExt]]], virtual: bool, shapes: Mapping[int, int]
) -> dict[tuple[int, int], tuple[Problem, ...]]:
    """``validate_policy_on_node`` of each policy on each PF it selects, keyed (policy index, id(PF)).

    Its rules read one PF at a time (but for numVfs 0, left to the caller), so the answers for
    all policies on one PF are kept in ``prep.pf_memo`` for every PF alike.
    """
    policies_on_pf: dict[int, tuple[InterfaceExt, list[int]]] = {}
    for index, pfs in selected:
        if prep.policies[index].num_vfs:
            for iface in pfs:
                policies_on_pf.setdefault(id(iface), (iface, []))[1].append(index)
    found: dict[tuple[int, int], tuple[Problem, ...]] = {}
    for key, (iface, indexes) in policies_on_pf.items():

        def validate(iface: InterfaceExt = iface, indexes: list[int] = indexes) -> list[list[Problem]]:
            return [
                validate_policy_on_node(prep.policies[i], [iface], virtual, prep.nics, prep.strict_nics)
                for i in indexes
            ]

        answers = prep.pf_memo.problems(
            ("policies on PF", virtual, shapes[key], tuple(indexes)), iface.pci_address, validate
        )
        found.update(zip([(i, key) for i in indexes], answers, strict=True))
    return found


def _applied_selections(
    prep: Prepared,
    applicable: tuple[int, ...],
    virtual: bool,
    interfaces: list[InterfaceExt],
    shapes: Mapping[int, int],
) -> tuple[list[Selection], list[Problem]]:
    selections: list[Selection] = []
    problems: list[Problem] = []
    selected_on_node = prep.by_pf.selected_on_node(applicable, interfaces)
    on_pfs = _problems_on_pfs(prep, selected_on_node, virtual, shapes)
    for index, selected in selected_on_node:
        policy = prep.policies[index]
        if policy.num_vfs:
            found = [problem for iface in selected for problem in on_pfs[index, id(iface)]]
        else:
            found = validate_policy_on_node(policy, selected, virtual, prep.nics, prep.strict_nics)
        if found:
            problems += found
            if any(p.severity == "error" for p in found):
                continue  # not applied on this node; the error says why
        if not selected:
            problems.append(
                warning(
                    policy_ref(policy.policy),
                    "spec.nicSelector",
                    "matches no interface of the node, so nothing is configured or exposed there",
                )
            )
        selections.append((policy, selected))
    return selections, problems


def _undiscovered(prep: Prepared, node: Node, applicable: tuple[int, ...]) -> NodeRender:
    """A node whose PFs are not known yet: nothing is exposed, and an existing spec is left alone.

    Without a NodeState the spec is the one the NodeState is created with (only the
    pool's rdmaMode).  A NodeState without interfaces is waiting for its first
    discovery: its spec is rendered as it is, as upstream leaves it.
    """
    state = prep.cluster.node_states.get(node.name)
    if state is None:
        spec = node_state_spec({}, prep.rdma_mode_by_node.get(node.name))
    else:
        spec = state.spec.to_k8s()
    problems = []
    if applicable:
        ref = ObjectRef(
            kind=SriovNetworkNodeState.KIND, namespace=prep.cluster.operator_namespace, name=node.name
        )
        if state is not None:
            what = "no interfaces in status"
        elif node.name in prep.cluster.invalid_node_states:
            what = "its SriovNetworkNodeState is invalid, see its errors"
        else:
            what = "no SriovNetworkNodeState"
        problems.append(
            warning(
                ref,
                "status.interfaces",
                f"not discovered yet ({what}), so policies configure and expose nothing here until it is",
            )
        )
    return NodeRender(spec, [], problems)


def _render_discovered(
    prep: Prepared,
    node: Node,
    applicable: tuple[int, ...],
    interfaces: list[InterfaceExt],
    shape: tuple[int, ...],
) -> NodeRender:
    shapes = {id(iface): shape_id for iface, shape_id in zip(interfaces, shape, strict=True)}

    def sharing_on_pf(sharing: Sequence[tuple[CompiledPolicy, InterfaceExt]]) -> list[Problem]:
        iface = sharing[0][1]
        [found] = prep.pf_memo.problems(
            ("sharing a PF", shapes[id(iface)], tuple(policy.name for policy, _ in sharing)),
            iface.pci_address,
            lambda: [validate_sharing_on_pf(sharing)],
        )
        return list(found)

    selections, problems = _applied_selections(prep, applicable, node.is_virtual, interfaces, shapes)
    problems += validate_policies_together(selections, sharing_on_pf, prep.pf_memo.policies_together)
    entries: dict[str, dict[str, Any]] = {}
    holders: dict[str, frozenset[str]] = {}
    for pci, (iface, appliers) in appliers_by_pf(selections).items():
        entries[pci], holders[pci] = prep.pf_memo.plan(
            (shapes[id(iface)], tuple((policy.name, equal) for policy, equal in appliers)),
            pci,
            partial(merge_on_pf, iface, appliers),
        )
    owned = owned_pci_addresses(selections, holders)
    for (policy, selected), (_, pcis) in zip(selections, owned, strict=True):
        if selected and not pcis:
            problems.append(
                warning(
                    policy_ref(policy.policy),
                    "spec.priority",
                    "policies applied after it (a lower priority number, or the same priority and a later "
                    "name) take every PF it selects, so it configures and exposes nothing there",
                )
            )
    resources = prep.resource_lists.for_node(owned, interfaces)
    bridges = ovs_bridges(selections) if prep.manage_bridges else []
    spec = node_state_spec(entries, prep.rdma_mode_by_node.get(node.name), bridges)
    configuring = frozenset(policy.name for policy, pcis in owned if pcis)
    return NodeRender(spec, resources, problems, configuring)


Memo = dict[Hashable, tuple[NodeRender, tuple[str, ...]]]


def render_node(prep: Prepared, node: Node, memo: Memo | None = None) -> NodeRender:
    """One node's spec, resources and problems (problems never name the node).

    ``memo`` shares the result between nodes alike in every input the rules read
    (same policies, same pool, PFs alike up to their PCI addresses, see
    :mod:`~sriov_operator.engine.node_shape`): most fleets are a few hardware
    models, so most nodes cost a lookup and an address substitution.
    """
    applicable = prep.policies_selecting(node.labels)
    state = prep.cluster.node_states.get(node.name)
    status = state.status if state is not None else None
    if status is None or not status.interfaces:
        return _undiscovered(prep, node, applicable)
    interfaces = ordered_by_address(status.interfaces)
    addresses = tuple(iface.pci_address for iface in interfaces)
    shape = tuple(prep.pf_memo.shape_id(iface) for iface in interfaces)  # PFs alike up to addresses
    key = (
        applicable,
        shape,
        prep.rdma_mode_by_node.get(node.name),
        node.is_virtual,
    )
    if memo is not None and key in memo:
        shared, shared_addresses = memo[key]
        if shared_addresses == addresses:
            return shared
        return shared.readdressed(dict(zip(shared_addresses, addresses, strict=True)))
    rendered = _render_discovered(prep, node, applicable, interfaces, shape)
    if memo is not None:
        memo[key] = (rendered, addresses)
    return rendered


@cycle_collector_paused()
def render_nodes(
    prep: Prepared, node_names: Iterable[str], stands_for: Mapping[str, Sequence[str]] | None = None
) -> RenderResult:
    """NodeState specs and device-plugin lists of the given managed nodes (others are skipped).

    ``stands_for``: a node rendered here on behalf of others its caller knows to be alike in
    every input the rules read (node name → the names it stands for, itself included); its
    problems are reported on all of them.  The specs and lists are only the rendered nodes'.
    """
    result = RenderResult()
    problems_by_node: dict[str, list[Problem]] = {}
    memo: Memo = {}
    for name in sorted(set(node_names)):
        node = prep.managed_nodes.get(name)
        if node is None:
            continue
        rendered = render_node(prep, node, memo)
        result.node_states[name] = rendered.spec
        result.device_plugin[name] = {"resourceList": rendered.resources}
        result.configuring[name] = rendered.configuring
        problems_by_node[name] = rendered.problems
    result.problems = _gather_across_nodes(problems_by_node, stands_for)
    return result


def policy_index(prep: Prepared) -> dict[str, frozenset[str]]:
    """Policy name → the managed nodes it selects; keep it to answer "which nodes did it select"."""
    labels = {name: node.labels for name, node in prep.managed_nodes.items()}
    selected = prep.by_node_selector.nodes_by_policy(labels)
    return {policy.name: selected[index] for index, policy in enumerate(prep.policies)}


def nodes_affected_by_policy_change(
    index_before: Mapping[str, frozenset[str]], prep_after: Prepared, policy_name: str
) -> frozenset[str]:
    """Nodes to re-render after ``policy_name`` was created, changed or deleted."""
    now = next(
        (
            frozenset(name for name, node in prep_after.managed_nodes.items() if p.selects_node(node.labels))
            for p in prep_after.policies
            if p.name == policy_name
        ),
        frozenset(),
    )
    return index_before.get(policy_name, frozenset()) | now


def _render_networks(prep: Prepared) -> tuple[list[dict[str, Any]], list[Problem]]:
    cluster = prep.cluster
    provided = {p.resource_name for p in prep.policies}
    problems: list[Problem] = []
    nads_by_target: dict[tuple[str, str], list[tuple[ObjectRef, dict[str, Any]]]] = {}
    for network in cluster.networks:
        found = validate_network(network, cluster.operator_namespace, provided)
        problems += found
        if any(p.severity == "error" for p in found):
            continue
        nad, _ = render_nad(network, prep.resource_prefix)
        ref = ObjectRef(kind=network.kind, namespace=network.namespace, name=network.name)
        if nad is not None:
            nads_by_target.setdefault((target_namespace(network), network.name), []).append((ref, nad))
    nads = []
    for (namespace, name), rendered in sorted(nads_by_target.items()):
        if len(rendered) == 1:
            nads.append(rendered[0][1])
            continue
        owners = ", ".join(str(ref) for ref, _ in rendered)
        problems += [
            error(
                ref,
                "metadata.name",
                f"{owners} all want NetworkAttachmentDefinition {namespace}/{name}; "
                "none is rendered; rename one or set a different networkNamespace",
            )
            for ref, _ in rendered
        ]
    return nads, problems


@cycle_collector_paused()
def render_cluster(
    cluster: ClusterObjects,
    *,
    resource_prefix: str,
    strict_nics: bool = False,
    stands_for: Mapping[str, Sequence[str]] | None = None,
) -> RenderResult:
    """Everything: every managed node, every network, every problem (valid objects are always rendered).

    ``stands_for``: see `render_nodes` (the webhook hands over one node per class of alike nodes).
    """
    prep = prepare(cluster, resource_prefix=resource_prefix, strict_nics=strict_nics)
    result = render_nodes(prep, prep.managed_nodes, stands_for)
    result.network_attachment_definitions, network_problems = _render_networks(prep)
    index = policy_index(prep)
    result.selected = index
    unused = [
        warning(
            policy_ref(p.policy),
            "spec.nodeSelector",
            f"{shown(p.policy.spec.node_selector)} matches no node "
            "the operator manages; accepted, it takes effect when such a node appears",
        )
        for p in prep.policies
        if not index[p.name]
    ]
    result.problems = [
        *prep.problems,
        *result.problems,
        *network_problems,
        *unused,
        *_pf_name_problems(prep, index, stands_for),
    ]
    return result


def _pf_name_problems(
    prep: Prepared, index: Mapping[str, frozenset[str]], stands_for: Mapping[str, Sequence[str]] | None
) -> list[Problem]:
    """pfNames entries that name no interface of any node their policy selects (see the rule)."""
    if not any(policy.pf_names for policy in prep.policies):
        return []
    discovered = {
        name: state.status.interfaces
        for name, state in prep.cluster.node_states.items()
        if name in prep.managed_nodes and state.status is not None and state.status.interfaces
    }
    problems: list[Problem] = []
    for policy in prep.policies:
        problems += pf_names_selecting_nothing(policy, index[policy.name], discovered, stands_for)
    return problems
