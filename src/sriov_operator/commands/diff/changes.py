"""What would change if manifests were applied: per node, the NodeState spec difference and
whether the node would need a drain or a reboot, predicted with the host layer's pure plan.

First, every admission rule: the applied objects are judged as the webhook judges them (the
engine's problems about those objects, against the cluster). One it would refuse changes
nothing, so the diff is then the refusal, not a change list.

The prediction plans the new spec and the current spec against the node's
reported status; what the new plan adds is the change's own cost. What the host
reports we do not know from the API (kernel modules, IOMMU, a running Open vSwitch)
is assumed ready, since none decides a drain; a device in the current spec counts
as one we configured, and the bridges in ``status.bridges`` as ours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sriov_operator.api.documents import Document
from sriov_operator.api.meta import name_of
from sriov_operator.api.models import (
    InterfaceExt,
    SriovNetworkNodePolicy,
    SriovNetworkNodeState,
    SriovNetworkNodeStateSpec,
)
from sriov_operator.api.platforms import platform_from_provider_id
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.coverage import NO_DEVICE_WHY, no_device_phrase, without_device_by_policy
from sriov_operator.engine.inputs import ClusterObjects, read_documents
from sriov_operator.engine.object_validation import validate_operator_config_update
from sriov_operator.engine.problems import Problem, split_by_severity
from sriov_operator.engine.render import RenderResult, render_cluster
from sriov_operator.host.actions import Requirement
from sriov_operator.host.mellanox import (
    LINK_TYPE,
    LINK_TYPES,
    NUM_OF_VFS,
    SRIOV_EN,
    FirmwareConfig,
    FirmwareFacts,
    FirmwareRead,
    Setting,
    mellanox_cards,
)
from sriov_operator.host.ovs import FoundBridge, OvsState
from sriov_operator.host.plan import PlanError, plan
from sriov_operator.host.state import DeviceRecord, HostState, KernelModules

LIST_KEYS = ("pciAddress", "resourceName", "name")
UNKNOWN_HOST_READY = KernelModules(vfio_loaded=True, vfio_pci_loaded=True, noiommu_enabled=True)


@dataclass(frozen=True)
class NodeChange:
    node: str
    changes: tuple[str, ...]  # "<path>: <before> -> <after>"
    requires: Requirement
    reasons: tuple[str, ...]  # why a drain or reboot is needed, one per host action
    error: str | None = None  # the new spec cannot be applied on this host (plan refused it)
    device_plugin_changed: bool = False


@dataclass
class DiffResult:
    nodes: list[NodeChange] = field(default_factory=list)
    nads: list[str] = field(default_factory=list)  # "created|changed|deleted <ns>/<name>"
    errors: list[str] = field(default_factory=list)  # problems the new objects introduce elsewhere
    refused: list[str] = field(default_factory=list)  # the admission webhook's errors: nothing changes
    warnings: list[str] = field(default_factory=list)  # its warnings about the applied objects
    policy_notes: list[str] = field(default_factory=list)  # "<policy>: selects no device on …"

    @property
    def changed(self) -> bool:
        return bool(self.nodes or self.nads)

    @property
    def failed(self) -> bool:
        return bool(self.refused or self.errors)

    def totals(self) -> dict[str, int]:
        return {
            "nodesChanged": len(self.nodes),
            "drains": sum(1 for n in self.nodes if n.requires == "drain"),
            "reboots": sum(1 for n in self.nodes if n.requires == "reboot"),
            "unplannable": sum(1 for n in self.nodes if n.error),
            "nadsChanged": len(self.nads),
        }


def _identity(body: Mapping[str, Any], namespace: str) -> tuple[str, str, str]:
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    kind = str(body.get("kind") or "")
    ns = "" if kind == "Node" else str(metadata.get("namespace") or namespace)
    return (kind, ns, str(metadata.get("name") or ""))


def overlay(current: Sequence[Document], applied: Sequence[Document], namespace: str) -> list[Document]:
    """``current`` with each object of ``applied`` replacing the one of the same kind, namespace and name.

    An applied object keeps the current one's status (``kubectl apply`` does not touch it).
    """
    merged = {_identity(doc.body, namespace): doc for doc in current}
    for doc in applied:
        key = _identity(doc.body, namespace)
        old = merged.get(key)
        if old is not None and "status" in old.body and "status" not in doc.body:
            merged[key] = Document(doc.source, doc.line, {**doc.body, "status": old.body["status"]})
        else:
            merged[key] = doc
    return list(merged.values())


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    for key in LIST_KEYS:
        if items and all(isinstance(i, dict) and key in i for i in items):
            return {str(i[key]): i for i in items}
    return None


def spec_changes(before: Any, after: Any, path: str = "") -> list[str]:
    """Field-level differences; lists of objects are matched by pciAddress / resourceName / name."""
    if isinstance(before, list) and isinstance(after, list):
        keyed_before, keyed_after = _keyed(before), _keyed(after)
        if keyed_before is not None and keyed_after is not None:
            before, after = keyed_before, keyed_after
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}[{key}]" if ":" in str(key) or "." in str(key) else f"{path}.{key}".lstrip(".")
            lines += spec_changes(before.get(key), after.get(key), sub)
        return lines
    if before == after:
        return []
    return [f"{path}: {_show(before)} -> {_show(after)}"]


def _show(value: Any) -> str:
    """A changed value as the user wrote it: strings bare, anything else compact JSON (``true``, ``{…}``)."""
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)


def reported_ovs(state: SriovNetworkNodeState | None) -> OvsState:
    """The node's Open vSwitch as its status shows it: running, with our bridges (hw-offload on with them)."""
    bridges = state.status.bridges if state is not None and state.status is not None else None
    ours = tuple(FoundBridge(bridge, ours=True) for bridge in (bridges.ovs if bridges else None) or [])
    return OvsState(ours, hw_offload=bool(ours))


def reported_firmware(interfaces: Sequence[InterfaceExt]) -> FirmwareFacts:
    """Each Mellanox card's firmware as the status implies it, running and kept at the next boot:
    SR-IOV with the VFs its PFs offer (``sriov_totalvfs`` is the firmware's ``NUM_OF_VFS``) and each
    port on the protocol it runs (ETH when the status does not say)."""
    found = {pf.pci_address: pf for pf in interfaces}
    cards: dict[str, FirmwareRead] = {}
    for first, pfs in mellanox_cards((pf.pci_address, pf.vendor) for pf in interfaces).items():
        offered = max(found[pci].totalvfs or 0 for pci in pfs)
        values = {SRIOV_EN: "True" if offered else "False", NUM_OF_VFS: str(offered)}
        for setting, pci in zip(LINK_TYPE, pfs, strict=False):
            link = (found[pci].link_type or "").upper()
            values[setting] = link if link in LINK_TYPES else "ETH"
        settings = {name: Setting(value, value, value) for name, value in values.items()}
        cards[first] = FirmwareRead(FirmwareConfig(settings))
    return FirmwareFacts(cards=cards)


def predict(
    state: SriovNetworkNodeState | None, provider_id: str, before: dict[str, Any], after: dict[str, Any]
) -> tuple[Requirement, tuple[str, ...], str | None]:
    """(drain/reboot needed, why, plan error) for moving a node's spec from ``before`` to ``after``."""
    interfaces = state.status.interfaces if state is not None and state.status is not None else None
    if not interfaces:
        return "none", (), None  # nothing discovered yet: nothing on the host to take away
    old_spec = SriovNetworkNodeStateSpec.model_validate(before)
    host = HostState(
        platform=platform_from_provider_id(provider_id),
        interfaces=list(interfaces),
        modules=UNKNOWN_HOST_READY,
        iommu_enabled=True,
        ovs=reported_ovs(state),
        firmware=reported_firmware(interfaces),
        configured={
            i.pci_address: DeviceRecord.model_validate(i.to_k8s()) for i in old_spec.interfaces or []
        },
    )
    try:
        new_plan = plan(SriovNetworkNodeStateSpec.model_validate(after), host)
    except PlanError as error:
        return "none", (), str(error)
    try:
        old_actions = plan(old_spec, host).actions
    except PlanError:
        old_actions = ()
    costly = [a for a in new_plan.actions if a.requires != "none" and a not in old_actions]
    requires: Requirement = "none"
    if costly:
        requires = "reboot" if any(a.requires == "reboot" for a in costly) else "drain"
    return requires, tuple(f"{a.kind}: {a.reason}" for a in costly), None


def _nad_changes(before: RenderResult, after: RenderResult) -> list[str]:
    def by_key(result: RenderResult) -> dict[str, dict[str, Any]]:
        nads = result.network_attachment_definitions
        return {f"{n['metadata']['namespace']}/{n['metadata']['name']}": n for n in nads}

    old, new = by_key(before), by_key(after)
    lines = [f"created {k}" for k in sorted(set(new) - set(old))]
    lines += [f"changed {k}" for k in sorted(set(new) & set(old)) if new[k] != old[k]]
    lines += [f"deleted {k}" for k in sorted(set(old) - set(new))]
    return lines


def _new_errors(before: list[Problem], after: list[Problem]) -> list[str]:
    known = {str(p) for p in before}
    return sorted({str(p) for p in after if p.severity == "error" and str(p) not in known})


def _update_problems(before: ClusterObjects, after: ClusterObjects) -> list[Problem]:
    """The webhook's rules that compare an object with its stored version (the operator config's)."""
    if after.operator_config is None:
        return []
    sync_status = {
        name: state.status.sync_status if state.status is not None else None
        for name, state in after.node_states.items()
    }
    return validate_operator_config_update(before.operator_config, after.operator_config, sync_status)


def applied_refs(applied: Sequence[Document], namespace: str) -> set[ObjectRef]:
    """The objects ``kubectl apply`` would send, as the engine names them in problems."""
    refs = set()
    for doc in applied:
        kind, ns, name = _identity(doc.body, namespace)
        refs.add(ObjectRef(kind=kind, namespace=ns or namespace, name=name or "?"))
    return refs


def diff_cluster(
    current: Sequence[Document],
    applied: Sequence[Document],
    namespace: str | None,
    resource_prefix: str,
    *,
    strict_nics: bool = False,
) -> DiffResult:
    """Render the cluster as it is and as it would be, and compare."""
    before_cluster, before_read = read_documents(current, namespace)
    ns = before_cluster.operator_namespace
    after_cluster, after_read = read_documents(overlay(current, applied, ns), ns)
    after = render_cluster(after_cluster, resource_prefix=resource_prefix, strict_nics=strict_nics)
    judged = applied_refs(applied, ns)
    about_applied = [*after_read, *after.problems, *_update_problems(before_cluster, after_cluster)]
    about_applied = [p for p in about_applied if p.ref in judged]
    refused, warnings = split_by_severity(about_applied)
    if refused:
        return DiffResult(refused=refused, warnings=warnings)
    before = render_cluster(before_cluster, resource_prefix=resource_prefix, strict_nics=strict_nics)
    result = DiffResult(nads=_nad_changes(before, after), warnings=warnings)
    elsewhere = [p for p in after_read + after.problems if p.ref not in judged]
    result.errors = _new_errors(before_read + before.problems, elsewhere)
    result.policy_notes = _coverage_notes(before, after, _applied_policies(applied))
    for name in sorted(set(before.node_states) | set(after.node_states)):
        old_spec, new_spec = before.node_states.get(name, {}), after.node_states.get(name, {})
        plugin_changed = before.device_plugin.get(name) != after.device_plugin.get(name)
        if old_spec == new_spec and not plugin_changed:
            continue
        requires, reasons, error = predict(
            after_cluster.node_states.get(name), _provider_id(after_cluster, name), old_spec, new_spec
        )
        result.nodes.append(
            NodeChange(
                name, tuple(spec_changes(old_spec, new_spec)), requires, reasons, error, plugin_changed
            )
        )
    return result


def _applied_policies(applied: Sequence[Document]) -> set[str]:
    return {name_of(doc.body) for doc in applied if doc.body.get("kind") == SriovNetworkNodePolicy.KIND}


def _coverage_notes(before: RenderResult, after: RenderResult, applied: set[str]) -> list[str]:
    """Policies that would select nodes but no device there (see ``engine.coverage``), as their status
    would say: each applied policy, and each other one whose set of such nodes changes."""
    old = without_device_by_policy(before.selected, before.configuring)
    new = without_device_by_policy(after.selected, after.configuring)
    return [
        f"{policy}: {no_device_phrase(nodes, len(after.selected[policy]))} ({NO_DEVICE_WHY})"
        for policy, nodes in sorted(new.items())
        if policy in applied or old.get(policy) != nodes
    ]


def _provider_id(cluster: ClusterObjects, name: str) -> str:
    node = cluster.nodes.get(name)
    return node.provider_id if node is not None else ""


def to_output(result: DiffResult) -> dict[str, Any]:
    return {
        "nodes": [
            {
                "node": n.node,
                "changes": list(n.changes),
                "devicePluginChanged": n.device_plugin_changed,
                "requires": n.requires,
                "reasons": list(n.reasons),
                **({"error": n.error} if n.error else {}),
            }
            for n in result.nodes
        ],
        "networkAttachmentDefinitions": result.nads,
        "refused": result.refused,
        "warnings": result.warnings,
        "errors": result.errors,
        "policyNotes": result.policy_notes,
        "totals": result.totals(),
    }
