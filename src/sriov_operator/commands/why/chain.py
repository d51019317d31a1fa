"""``why``'s decisions: walk the chain from a pod, network, policy or node to where it breaks (pure).

The chain, in order::

    pod -> annotation -> nad -> network -> resource -> policy -> nodes
        -> nodestate -> sync -> handoff -> allocatable -> scheduler

Each step is a :class:`Link`: whether it holds, one line saying what was found, and
the evidence (the object, its conditions, its Events, the plan lines the daemon
reported). A walk stops at the first link that does not hold: what follows it
cannot be judged yet.

Node steps narrow a set of nodes: for a pod or a network one node where every step
holds is enough (the scheduler needs one); for a policy or a node every selected
node must hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sriov_operator.api.constants import (
    APPLIED_GENERATION_ANNOTATION,
    DEFAULT_CONFIG_DAEMON_NODE_SELECTOR,
    DEFAULT_RESOURCE_PREFIX,
    NAD_RESOURCE_NAME_ANNOTATION,
    OWNER_REF_ANNOTATION,
)
from sriov_operator.api.meta import annotations_of, generation_of, labels_of, name_of, namespace_of
from sriov_operator.commands.why.evidence import (
    Events,
    Object,
    condition,
    condition_line,
    condition_lines,
    ref,
    shown,
)
from sriov_operator.daemon.handoff import config_text, read_device_plugin_config
from sriov_operator.engine.selection import labels_match
from sriov_operator.errors import BadInputError
from sriov_operator.webhook.injector import requested_networks

STEPS = (
    "pod",
    "annotation",
    "nad",
    "network",
    "resource",
    "policy",
    "nodes",
    "nodestate",
    "sync",
    "handoff",
    "allocatable",
    "scheduler",
)
NETWORK_KINDS = ("SriovNetwork", "SriovIBNetwork", "OVSNetwork")
NODES_SHOWN = 3  # per link; the rest are counted
NodeStep = Callable[[Sequence[str]], tuple["Link", list[str]]]


@dataclass(frozen=True)
class Link:
    step: str  # one of STEPS
    holds: bool
    summary: str
    evidence: tuple[str, ...] = ()

    def to_output(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "holds": self.holds,
            "summary": self.summary,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class Branch:
    """The links of one network of a pod (or the one chain of any other subject)."""

    label: str
    links: tuple[Link, ...]

    @property
    def broken(self) -> Link | None:
        return next((link for link in self.links if not link.holds), None)


@dataclass(frozen=True)
class Answer:
    subject: str
    head: tuple[Link, ...] = ()  # links before the chain splits per network (a pod's own)
    branches: tuple[Branch, ...] = ()
    tail: tuple[Link, ...] = ()  # links after every branch (the pod's scheduling)

    def links(self) -> list[Link]:
        return [*self.head, *(link for b in self.branches for link in b.links), *self.tail]

    @property
    def broken(self) -> Link | None:
        return next((link for link in self.links() if not link.holds), None)

    @property
    def holds(self) -> bool:
        return self.broken is None

    def to_output(self) -> dict[str, Any]:
        broken = self.broken
        return {
            "subject": self.subject,
            "holds": broken is None,
            "brokenAt": None if broken is None else broken.step,
            "links": [link.to_output() for link in self.head],
            "networks": [
                {"network": b.label, "links": [link.to_output() for link in b.links]} for b in self.branches
            ],
            "then": [link.to_output() for link in self.tail],
        }


@dataclass(frozen=True)
class ClusterObjects:
    """What ``why`` read from the cluster (the command fetches; nothing here does I/O)."""

    operator_namespace: str
    nodes: Mapping[str, Object] = field(default_factory=dict)
    states: Mapping[str, Object] = field(default_factory=dict)  # SriovNetworkNodeStates by node
    device_plugin_configs: Mapping[str, Object] = field(default_factory=dict)  # ConfigMaps by node
    policies: Sequence[Object] = ()  # every namespace (one elsewhere is a finding)
    networks: Sequence[Object] = ()  # SriovNetwork, SriovIBNetwork, OVSNetwork, every namespace
    nads: Mapping[tuple[str, str], Object] = field(default_factory=dict)  # by (namespace, name)
    operator_config: Object | None = None
    events: Events = field(default_factory=Events)
    pods: Mapping[tuple[str, str], Object] = field(default_factory=dict)


def _some(names: Sequence[str]) -> str:
    if len(names) <= NODES_SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:NODES_SHOWN])} and {len(names) - NODES_SHOWN} more"


@dataclass(frozen=True)
class _NodeCheck:
    ok: bool
    detail: str  # what was found on the node
    evidence: tuple[str, ...] = ()


def _grouped(nodes: Sequence[str], results: Mapping[str, _NodeCheck]) -> str:
    """``worker-0, worker-1: <what>; worker-2: <other>``: nodes with the same finding share a line."""
    by_detail: dict[str, list[str]] = {}
    for node in nodes:
        by_detail.setdefault(results[node].detail, []).append(node)
    return "; ".join(f"{_some(names)}: {detail}" for detail, names in by_detail.items())


def _funnel(
    step: str, nodes: Sequence[str], check: Callable[[str], _NodeCheck], need_all: bool
) -> tuple[Link, list[str]]:
    """Check every node; the link holds when one (or, with ``need_all``, every) node passes."""
    results = {node: check(node) for node in nodes}
    passing = [n for n in nodes if results[n].ok]
    failing = [n for n in nodes if not results[n].ok]
    holds = bool(passing) and (not need_all or not failing)
    lines = [f"{n}: {results[n].detail}" for n in nodes] if len(nodes) > NODES_SHOWN else []
    evidence = [*lines, *(e for n in failing for e in results[n].evidence)]
    if holds:
        summary = _grouped(passing, results) + (f" (not on {_some(failing)})" if failing else "")
    else:
        summary = _grouped(failing, results)
    return Link(step, holds, summary, tuple(evidence)), passing


class _Walk:
    """Collects links until the first one that does not hold."""

    def __init__(self) -> None:
        self.links: list[Link] = []

    def add(self, link: Link) -> bool:
        self.links.append(link)
        return link.holds

    @property
    def ok(self) -> bool:
        return all(link.holds for link in self.links)


# ------------------------------------------------------------------ resource -> node steps
def _resource_of_network(network: Object) -> str:
    return str((network.get("spec") or {}).get("resourceName") or "")


def _policies_step(view: ClusterObjects, resource: str) -> tuple[Link, list[Object]]:
    mine = [
        p
        for p in view.policies
        if namespace_of(p) == view.operator_namespace
        and (p.get("spec") or {}).get("resourceName") == resource
    ]
    elsewhere = [
        p
        for p in view.policies
        if namespace_of(p) != view.operator_namespace
        and (p.get("spec") or {}).get("resourceName") == resource
    ]
    if not mine:
        evidence = [
            f"{ref(p, 'SriovNetworkNodePolicy')} has resourceName {resource}, but the operator reads "
            f"policies only in its namespace {view.operator_namespace}: move it there"
            for p in elsewhere
        ]
        return Link(
            "policy",
            False,
            f"no SriovNetworkNodePolicy in {view.operator_namespace} has resourceName {resource}",
            tuple(evidence),
        ), []
    evidence = [f"{ref(p, 'SriovNetworkNodePolicy')}: nodeSelector {shown(_node_selector(p))}" for p in mine]
    for policy in mine:
        evidence += condition_lines(policy, ref(policy, "SriovNetworkNodePolicy"))
        evidence += view.events.about(policy, "SriovNetworkNodePolicy")
    summary = "; ".join(
        f"SriovNetworkNodePolicy {name_of(p)}"
        + (
            f" ({condition_line(found).removeprefix('condition ')})"
            if (found := condition(p, "Ready"))
            else ""
        )
        for p in mine
    )
    return Link("policy", True, summary, tuple(evidence)), mine


def _node_selector(policy: Object) -> dict[str, str]:
    return dict((policy.get("spec") or {}).get("nodeSelector") or {})


def _daemon_selector(view: ClusterObjects) -> dict[str, str]:
    selector = ((view.operator_config or {}).get("spec") or {}).get("configDaemonNodeSelector")
    return dict(selector or DEFAULT_CONFIG_DAEMON_NODE_SELECTOR)


def _nodes_step(
    view: ClusterObjects, policies: Sequence[Object], among: Sequence[str]
) -> tuple[Link, list[str]]:
    daemon = _daemon_selector(view)
    selected = [
        node
        for node in among
        if labels_match(daemon, labels_of(view.nodes.get(node)))
        and any(labels_match(_node_selector(p), labels_of(view.nodes.get(node))) for p in policies)
    ]
    if selected:
        return Link(
            "nodes", True, f"selects {len(selected)} of {len(among)} node(s): {_some(selected)}"
        ), selected
    evidence = [
        f"config daemons run on nodes labelled {shown(daemon)} (SriovOperatorConfig configDaemonNodeSelector)"
    ]
    evidence += [
        f"{ref(p, 'SriovNetworkNodePolicy')}: nodeSelector {shown(_node_selector(p))}" for p in policies
    ]
    keys = sorted({*daemon, *(key for p in policies for key in _node_selector(p))})
    evidence += [
        f"Node {n}: labels {shown({key: labels_of(view.nodes.get(n)).get(key) for key in keys})}"
        for n in among[:NODES_SHOWN]
    ]
    what = "no Node" if not among else f"none of {len(among)} node(s) ({_some(list(among))})"
    return Link("nodes", False, f"the nodeSelector matches {what}", tuple(evidence)), []


def _groups(state: Object | None, resource: str) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    found = []
    for iface in ((state or {}).get("spec") or {}).get("interfaces") or []:
        for group in iface.get("vfGroups") or []:
            if group.get("resourceName") == resource:
                found.append((iface, group))
    return found


def _state_ref(view: ClusterObjects, node: str) -> str:
    return f"SriovNetworkNodeState {view.operator_namespace}/{node}"


def _discovered(state: Object | None) -> str:
    interfaces = ((state or {}).get("status") or {}).get("interfaces") or []
    parts = [
        " ".join(str(x) for x in (i.get("name") or "-", i.get("pciAddress"), i.get("netFilter") or "") if x)
        for i in interfaces
    ]
    return "; ".join(parts) if parts else "none reported yet"


def _nodestate_step(
    view: ClusterObjects, resource: str, policies: Sequence[Object], nodes: Sequence[str], need_all: bool
) -> tuple[Link, list[str]]:
    def check(node: str) -> _NodeCheck:
        state = view.states.get(node)
        if state is None:
            return _NodeCheck(
                False, f"no {_state_ref(view, node)} (the operator writes one per selected node)"
            )
        groups = _groups(state, resource)
        if not groups:
            selectors = "; ".join(
                f"{name_of(p)} nicSelector {shown((p.get('spec') or {}).get('nicSelector') or {})}"
                for p in policies
            )
            return _NodeCheck(
                False,
                f"its NodeState spec configures no device for {resource}: the nicSelector matches "
                "none of its interfaces",
                (f"{selectors}", f"{_state_ref(view, node)} status.interfaces: {_discovered(state)}"),
            )
        devices = ", ".join(
            f"{i.get('pciAddress')}{' (' + str(i['name']) + ')' if i.get('name') else ''} "
            f"{g.get('deviceType') or 'netdevice'} vfRange {g.get('vfRange')}"
            for i, g in groups
        )
        return _NodeCheck(True, f"{devices}")

    link, passing = _funnel("nodestate", nodes, check, need_all)
    if not link.holds:
        extra = [line for p in policies for line in condition_lines(p, ref(p, "SriovNetworkNodePolicy"))]
        link = Link(link.step, False, link.summary, (*link.evidence, *extra))
    return link, passing


def _sync_step(view: ClusterObjects, nodes: Sequence[str], need_all: bool) -> tuple[Link, list[str]]:
    def check(node: str) -> _NodeCheck:
        state = view.states.get(node) or {}
        status = state.get("status") or {}
        who = _state_ref(view, node)
        evidence = (
            *condition_lines(state, who),
            *view.events.about(state, "SriovNetworkNodeState", warnings_only=True),
        )
        sync = status.get("syncStatus") or "none yet"
        if sync != "Succeeded":
            error = f": {status['lastSyncError']}" if status.get("lastSyncError") else ""
            ready = condition(state, "Ready")
            why = f" (Ready={ready.get('status')} {ready.get('reason')})" if ready is not None else ""
            return _NodeCheck(False, f"syncStatus {sync}{error}{why}", evidence)
        generation, applied = generation_of(state), annotations_of(state).get(APPLIED_GENERATION_ANNOTATION)
        if str(generation) != str(applied):
            return _NodeCheck(
                False,
                f"spec generation {generation} not applied yet (the daemon last applied {applied or 'none'})",
                evidence,
            )
        return _NodeCheck(True, f"syncStatus Succeeded, generation {generation} applied", evidence)

    return _funnel("sync", nodes, check, need_all)


def _resource_list(configmap: Object | None) -> list[Mapping[str, Any]]:
    text = config_text(configmap or {})
    try:
        parsed = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return []
    found = parsed.get("resourceList") if isinstance(parsed, dict) else None
    return [r for r in found or [] if isinstance(r, Mapping)]


def _handoff_step(
    view: ClusterObjects, resource: str, nodes: Sequence[str], need_all: bool
) -> tuple[Link, list[str]]:
    def check(node: str) -> _NodeCheck:
        configmap = view.device_plugin_configs.get(node)
        who = f"ConfigMap {view.operator_namespace}/{name_of(configmap)}" if configmap else "ConfigMap"
        config = read_device_plugin_config(configmap)
        if configmap is None or config is None:
            return _NodeCheck(
                False, "no device-plugin ConfigMap with config.json yet (the operator writes it)"
            )
        if not any(r.get("resourceName") == resource for r in _resource_list(configmap)):
            return _NodeCheck(False, f"{who} config.json does not list {resource} yet")
        if config.handed_over != config.digest:
            state = view.states.get(node)
            return _NodeCheck(
                False,
                f"{who} not handed over to the device plugin yet (the daemon does it once the host "
                f"matches spec generation {config.for_generation})",
                tuple(condition_lines(state, _state_ref(view, node))),
            )
        return _NodeCheck(True, "device-plugin config handed over", (who,))

    return _funnel("handoff", nodes, check, need_all)


def _allocatable_step(
    view: ClusterObjects, full_name: str, nodes: Sequence[str], need_all: bool
) -> tuple[Link, list[str]]:
    def check(node: str) -> _NodeCheck:
        status = (view.nodes.get(node) or {}).get("status") or {}
        value = str((status.get("allocatable") or {}).get(full_name) or "0")
        count = int(value) if value.isdigit() else 0
        if count > 0:
            return _NodeCheck(True, f"allocatable {full_name}: {count}")
        state = view.states.get(node)
        evidence = (
            f"Node {node}: capacity {full_name}: {(status.get('capacity') or {}).get(full_name) or 0}",
            *condition_lines(state, _state_ref(view, node)),
            *view.events.about(state, "SriovNetworkNodeState", warnings_only=True),
            *view.events.about(view.nodes.get(node), "Node", warnings_only=True),
        )
        return _NodeCheck(
            False, f"allocatable {full_name}: {value}: the device plugin advertises none", evidence
        )

    return _funnel("allocatable", nodes, check, need_all)


def _prefix_of(view: ClusterObjects, resource: str) -> str:
    for configmap in view.device_plugin_configs.values():
        for entry in _resource_list(configmap):
            if entry.get("resourceName") == resource and entry.get("resourcePrefix"):
                return str(entry["resourcePrefix"])
    return DEFAULT_RESOURCE_PREFIX


def _resource_to_nodes(
    view: ClusterObjects,
    walk: _Walk,
    resource: str,
    full_name: str,
    among: Sequence[str],
    *,
    need_all: bool,
    policies: Sequence[Object] | None = None,
) -> list[str]:
    """policy -> nodes -> nodestate -> sync -> handoff -> allocatable; the nodes where all hold."""
    if policies is None:
        link, policies = _policies_step(view, resource)
        if not walk.add(link):
            return []
    link, nodes = _nodes_step(view, policies, among)
    if not walk.add(link):
        return []
    chosen = policies
    steps: tuple[NodeStep, ...] = (
        lambda ns: _nodestate_step(view, resource, chosen, ns, need_all),
        lambda ns: _sync_step(view, ns, need_all),
        lambda ns: _handoff_step(view, resource, ns, need_all),
        lambda ns: _allocatable_step(view, full_name, ns, need_all),
    )
    for step in steps:
        link, nodes = step(nodes)
        if not walk.add(link):
            return []
    return nodes


# ------------------------------------------------------------------ network steps
def _network_owner(view: ClusterObjects, nad: Object) -> Object | None:
    """The SriovNetwork (or IB/OVS network) a NAD was rendered from, by its owner-ref annotation."""
    owner = annotations_of(nad).get(OWNER_REF_ANNOTATION) or ""  # Kind.group/namespace/name
    kind_group, _, rest = owner.partition("/")
    namespace, _, name = rest.partition("/")
    kind = kind_group.split(".", 1)[0]
    return next(
        (
            n
            for n in view.networks
            if n.get("kind") == kind and namespace_of(n) == namespace and name_of(n) == name
        ),
        None,
    )


def _network_link(view: ClusterObjects, network: Object) -> Link:
    who = ref(network)
    evidence = (*condition_lines(network, who), *view.events.about(network, str(network.get("kind"))))
    ready = condition(network, "Ready")
    if ready is not None and ready.get("status") == "False":
        return Link("network", False, f"{who}: {condition_line(ready).removeprefix('condition ')}", evidence)
    if namespace_of(network) != view.operator_namespace:
        return Link(
            "network",
            False,
            f"{who} is outside the operator namespace {view.operator_namespace}, "
            "which the operator does not read",
            evidence,
        )
    target = (network.get("spec") or {}).get("networkNamespace") or namespace_of(network)
    return Link(
        "network", True, f"{who}: resource {_resource_of_network(network)}, NAD in {target}", evidence
    )


def _nad_link(nad: Object | None, namespace: str, name: str) -> Link:
    if nad is None:
        return Link("nad", False, f"no NetworkAttachmentDefinition {namespace}/{name}")
    resource = annotations_of(nad).get(NAD_RESOURCE_NAME_ANNOTATION)
    if not resource:
        return Link(
            "nad",
            False,
            f"NetworkAttachmentDefinition {namespace}/{name} has no {NAD_RESOURCE_NAME_ANNOTATION} "
            "annotation: not an SR-IOV network, no device to ask for",
        )
    return Link(
        "nad",
        True,
        f"NetworkAttachmentDefinition {namespace}/{name}: resource {resource}",
    )


def _missing_nad_evidence(view: ClusterObjects, namespace: str, name: str) -> tuple[str, ...]:
    """Which of our networks would render the missing NAD, and why it does not (yet)."""
    lines = []
    for network in view.networks:
        if name_of(network) != name:
            continue
        target = (network.get("spec") or {}).get("networkNamespace") or namespace_of(network)
        lines.append(f"{ref(network)} renders its NAD into namespace {target}")
        lines += condition_lines(network, ref(network))
    return tuple(lines) or (f"no SriovNetwork, SriovIBNetwork or OVSNetwork is named {name}",)


def _branch_from_nad(
    view: ClusterObjects, walk: _Walk, namespace: str, name: str, pod: Object | None
) -> list[str]:
    nad = view.nads.get((namespace, name))
    link = _nad_link(nad, namespace, name)
    if nad is None:
        link = Link(link.step, False, link.summary, _missing_nad_evidence(view, namespace, name))
    if not walk.add(link) or nad is None:
        return []
    network = _network_owner(view, nad)
    if network is None:
        owner = annotations_of(nad).get(OWNER_REF_ANNOTATION) or "none"
        walk.add(
            Link("network", False, f"the NAD's {OWNER_REF_ANNOTATION} ({owner}) names no network that exists")
        )
        return []
    if not walk.add(_network_link(view, network)):
        return []
    full_name = annotations_of(nad).get(NAD_RESOURCE_NAME_ANNOTATION) or ""
    resource = _resource_of_network(network)
    if not walk.add(_resource_link(view, full_name, resource, pod)):
        return []
    return _resource_to_nodes(view, walk, resource, full_name, sorted(view.nodes), need_all=False)


def _requests(pod: Object) -> dict[str, str]:
    requests: dict[str, str] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        for key, value in ((container.get("resources") or {}).get("requests") or {}).items():
            requests[key] = str(value)
    return requests


def _resource_link(view: ClusterObjects, full_name: str, resource: str, pod: Object | None) -> Link:
    if not full_name.endswith(f"/{resource}"):
        return Link(
            "resource",
            False,
            f"the NAD asks for {full_name or 'nothing'}, the network's resource is {resource}",
        )
    if pod is None:
        return Link("resource", True, f"{full_name}")
    requested = _requests(pod).get(full_name)
    if requested is None:
        return Link(
            "resource",
            False,
            f"the pod does not request {full_name}: the injector adds it when the pod is created "
            "(enableInjector in SriovOperatorConfig default, and the NAD existing then); recreate the pod "
            "or request it",
            (_injector_line(view),),
        )
    return Link("resource", True, f"the pod requests {full_name}: {requested}")


def _injector_line(view: ClusterObjects) -> str:
    where = f"SriovOperatorConfig {view.operator_namespace}/default"
    if view.operator_config is None:
        return f"{where}: not found (the injector is off without it)"
    enabled = bool((view.operator_config.get("spec") or {}).get("enableInjector"))
    return f"{where}: enableInjector {shown(enabled)}"


# ------------------------------------------------------------------ subjects
def why_pod(view: ClusterObjects, namespace: str, name: str) -> Answer:
    subject = f"Pod {namespace}/{name}"
    pod = view.pods.get((namespace, name))
    if pod is None:
        return Answer(subject, (Link("pod", False, f"no Pod {namespace}/{name}"),))
    phase = (pod.get("status") or {}).get("phase") or "unknown"
    head = [Link("pod", True, f"{subject} (phase {phase})")]
    try:
        refs = requested_networks(pod, namespace)
    except BadInputError as error:
        head.append(Link("annotation", False, f"k8s.v1.cni.cncf.io/networks: {error}"))
        return Answer(subject, tuple(head))
    if not refs:
        head.append(
            Link("annotation", False, "the pod names no network (annotation k8s.v1.cni.cncf.io/networks)")
        )
        return Answer(subject, tuple(head))
    unique = list(dict.fromkeys(refs))
    head.append(
        Link(
            "annotation",
            True,
            "k8s.v1.cni.cncf.io/networks: " + ", ".join(f"{r.namespace}/{r.name}" for r in unique),
        )
    )
    branches = []
    usable: set[str] | None = None
    for network in unique:
        walk = _Walk()
        nodes = _branch_from_nad(view, walk, network.namespace, network.name, pod)
        branches.append(Branch(f"{network.namespace}/{network.name}", tuple(walk.links)))
        usable = set(nodes) if usable is None else usable & set(nodes)
    answer = Answer(subject, tuple(head), tuple(branches))
    if not answer.holds:
        return answer
    return Answer(subject, tuple(head), tuple(branches), (_scheduler_link(view, pod, sorted(usable or ())),))


def _scheduler_link(view: ClusterObjects, pod: Object, usable: Sequence[str]) -> Link:
    node = (pod.get("spec") or {}).get("nodeName")
    offered = f"nodes offering every resource: {_some(list(usable)) or 'none'}"
    if node:
        return Link("scheduler", True, f"bound to node {node} ({offered})")
    evidence = [offered, *(f"{ref(pod, 'Pod')}: {line}" for line in _pod_conditions(pod))]
    evidence += view.events.about(pod, "Pod")
    scheduled = condition(pod, "PodScheduled")
    said = f": {scheduled.get('reason')}: {scheduled.get('message')}" if scheduled is not None else " yet"
    return Link("scheduler", False, f"not bound to a node{said}", tuple(evidence))


def _pod_conditions(pod: Object) -> list[str]:
    return [
        condition_line(c)
        for c in ((pod.get("status") or {}).get("conditions") or [])
        if c.get("status") != "True"
    ]


def _find_network(view: ClusterObjects, name: str, namespace: str | None) -> Object | None:
    named = [n for n in view.networks if name_of(n) == name]
    for wanted in (namespace, view.operator_namespace):
        for network in named:
            target = (network.get("spec") or {}).get("networkNamespace") or namespace_of(network)
            if wanted is not None and wanted in (namespace_of(network), target):
                return network
    return named[0] if named and namespace is None else None


def why_network(view: ClusterObjects, name: str, namespace: str | None) -> Answer:
    network = _find_network(view, name, namespace)
    if network is None:
        where = f" (namespace {namespace})" if namespace else ""
        subject = f"network {name}"
        return Answer(
            subject, (Link("network", False, f"no SriovNetwork, SriovIBNetwork or OVSNetwork {name}{where}"),)
        )
    walk = _Walk()
    subject = ref(network)
    if walk.add(_network_link(view, network)):
        target = str((network.get("spec") or {}).get("networkNamespace") or namespace_of(network))
        nad = view.nads.get((target, name))
        link = _nad_link(nad, target, name)
        if walk.add(link) and nad is not None:
            full_name = annotations_of(nad).get(NAD_RESOURCE_NAME_ANNOTATION) or ""
            resource = _resource_of_network(network)
            if walk.add(_resource_link(view, full_name, resource, None)):
                _resource_to_nodes(view, walk, resource, full_name, sorted(view.nodes), need_all=False)
    return Answer(subject, branches=(Branch(name, tuple(walk.links)),))


def why_policy(view: ClusterObjects, name: str) -> Answer:
    subject = f"SriovNetworkNodePolicy {view.operator_namespace}/{name}"
    mine = [p for p in view.policies if name_of(p) == name and namespace_of(p) == view.operator_namespace]
    if not mine:
        elsewhere = [ref(p, "SriovNetworkNodePolicy") for p in view.policies if name_of(p) == name]
        evidence = tuple(
            f"{e} exists, but the operator reads policies only in {view.operator_namespace}"
            for e in elsewhere
        )
        return Answer(subject, (Link("policy", False, f"no {subject}", evidence),))
    policy = mine[0]
    resource = str((policy.get("spec") or {}).get("resourceName") or "")
    walk = _Walk()
    evidence = (*condition_lines(policy, subject), *view.events.about(policy, "SriovNetworkNodePolicy"))
    walk.add(
        Link(
            "policy",
            True,
            f"{subject}: resourceName {resource}, nodeSelector {shown(_node_selector(policy))}",
            evidence,
        )
    )
    full_name = f"{_prefix_of(view, resource)}/{resource}"
    _resource_to_nodes(view, walk, resource, full_name, sorted(view.nodes), need_all=True, policies=[policy])
    return Answer(subject, branches=(Branch(resource, tuple(walk.links)),))


def why_node(view: ClusterObjects, name: str) -> Answer:
    subject = f"Node {name}"
    node = view.nodes.get(name)
    if node is None:
        return Answer(subject, (Link("nodes", False, f"no Node {name}"),))
    labels = labels_of(node)
    daemon = _daemon_selector(view)
    if not labels_match(daemon, labels):
        return Answer(
            subject,
            (
                Link(
                    "nodes",
                    False,
                    f"no config daemon runs on {name}: its labels lack {shown(daemon)} "
                    "(SriovOperatorConfig configDaemonNodeSelector)",
                ),
            ),
        )
    policies = [
        p
        for p in view.policies
        if namespace_of(p) == view.operator_namespace and labels_match(_node_selector(p), labels)
    ]
    if not policies:
        return Answer(
            subject,
            (
                Link(
                    "policy",
                    False,
                    f"no SriovNetworkNodePolicy in {view.operator_namespace} selects {name} by its labels",
                ),
            ),
        )
    head = (Link("nodes", True, f"{subject}: selected by " + ", ".join(name_of(p) for p in policies)),)
    branches = []
    for resource in dict.fromkeys(str((p.get("spec") or {}).get("resourceName") or "") for p in policies):
        walk = _Walk()
        providers = [p for p in policies if (p.get("spec") or {}).get("resourceName") == resource]
        full_name = f"{_prefix_of(view, resource)}/{resource}"
        _resource_to_nodes(view, walk, resource, full_name, [name], need_all=True, policies=providers)
        branches.append(Branch(resource, tuple(walk.links[1:])))  # the node itself is the head
    return Answer(subject, head, tuple(branches))
