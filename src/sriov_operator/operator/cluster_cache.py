"""The engine's inputs, typed, kept current from watch events; the engine's preparation rebuilt lazily.

Each setter says what has to be re-rendered because of the change, so the
node-state controller re-renders only those nodes:

- a Node whose labels or providerID changed: that node;
- a NodeState whose discovered interfaces changed (or, before its first
  discovery, whose spec changed: the engine keeps an undiscovered node's spec): that node;
- a policy whose spec changed: the nodes it selected before or selects now
  (``engine.render.nodes_affected_by_policy_change``);
- a pool, the ``default`` SriovOperatorConfig or the supported-NIC ConfigMap:
  every node (the setter returns True).

Changes that touch none of the engine's inputs (statuses, heartbeats, the
policy status we write ourselves) re-render nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from sriov_operator.api.constants import (
    DEFAULT_OPERATOR_CONFIG_NAME,
    DEFAULT_POLICY_NAME,
    DEVICE_PLUGIN_LABEL,
)
from sriov_operator.api.meta import labels_of, name_of, namespace_of
from sriov_operator.api.models import (
    SriovNetworkNodePolicy,
    SriovNetworkNodeState,
    SriovNetworkPoolConfig,
    SriovOperatorConfig,
)
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.inputs import ClusterObjects, Node, parse_object
from sriov_operator.engine.mutation import apply_policy_defaults
from sriov_operator.engine.node_shape import NodeRender
from sriov_operator.engine.problems import Problem
from sriov_operator.engine.render import (
    Memo,
    Prepared,
    nodes_affected_by_policy_change,
    policy_index,
    prepare,
    render_node,
)
from sriov_operator.engine.selection import CompiledPolicy

FROM_API = "from the API server"


def node_from_json(obj: Mapping[str, Any]) -> Node:
    """The engine's Node, without the device-plugin label: that label is the operator's own output
    (selecting on it would feed the operator's writes back into its inputs), and leaving it out
    keeps the operator's label writes from invalidating the engine's preparation."""
    labels = labels_of(obj)
    spec = obj.get("spec") or {}
    return Node(
        name_of(obj),
        {str(k): "" if v is None else str(v) for k, v in labels.items() if k != DEVICE_PLUGIN_LABEL},
        str(spec.get("providerID") or ""),
    )


def discovered_interfaces(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``status.interfaces`` without the VF lists (no engine rule reads them)."""
    status = state.get("status") or {}
    return [{k: v for k, v in iface.items() if k != "Vfs"} for iface in status.get("interfaces") or []]


def _spec_key(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj.get("spec"), sort_keys=True)


def _ref(obj: Mapping[str, Any], kind: str, namespace: str) -> ObjectRef:
    return ObjectRef(kind=kind, namespace=namespace_of(obj) or namespace, name=name_of(obj))


class ClusterCache:
    """Typed engine inputs of one operator namespace; not thread-safe (one event loop)."""

    def __init__(self, operator_namespace: str, resource_prefix: str) -> None:
        self.resource_prefix = resource_prefix
        self.cluster = ClusterObjects(operator_namespace)
        self._policies: dict[str, SriovNetworkNodePolicy] = {}
        self._pools: dict[str, SriovNetworkPoolConfig] = {}
        self._inputs_seen: dict[ObjectRef, str] = {}  # last spec (or interfaces) JSON per object
        self._parse_problems: dict[ObjectRef, list[Problem]] = {}
        self._prep: Prepared | None = None
        self._index: dict[str, frozenset[str]] = {}
        self._compiled: tuple[CompiledPolicy, ...] = ()
        self._memo: Memo = {}

    @property
    def operator_namespace(self) -> str:
        return self.cluster.operator_namespace

    # --- the engine's view -------------------------------------------------------------------

    def prepared(self) -> Prepared:
        if self._prep is None:
            self.cluster.policies = [self._policies[name] for name in sorted(self._policies)]
            self.cluster.pools = [self._pools[name] for name in sorted(self._pools)]
            self._prep = prepare(self.cluster, resource_prefix=self.resource_prefix)
            self._index = policy_index(self._prep)
            self._compiled = self._prep.policies
            self._memo = {}
        return self._prep

    def index(self) -> Mapping[str, frozenset[str]]:
        """Policy name → managed nodes it selects (statically valid policies only)."""
        self.prepared()
        return self._index

    def render(self, node_name: str) -> NodeRender | None:
        """The node's spec, resources and problems; None when the operator does not manage it."""
        prep = self.prepared()
        node = prep.managed_nodes.get(node_name)
        return None if node is None else render_node(prep, node, self._memo)

    def policies_selecting(self, node_name: str) -> list[str]:
        """Valid policies whose nodeSelector matches the node, without rebuilding the preparation.

        Event handlers call this for every Node and NodeState event; rebuilding
        there would make a fleet's initial sync quadratic. The policies are those
        of the last preparation: every policy change rebuilds it at once.
        """
        node = self.cluster.nodes.get(node_name)
        if node is None:
            return []
        return [policy.name for policy in self._compiled if policy.selects_node(node.labels)]

    def managed_nodes(self) -> frozenset[str]:
        return frozenset(self.prepared().managed_nodes)

    def problems_of(self, ref: ObjectRef) -> list[Problem]:
        """Problems the engine found in one object (schema, static validation, pools)."""
        found = [p for p in self.prepared().problems if p.ref == ref]
        return [*self._parse_problems.get(ref, []), *found]

    def resource_names(self) -> set[str]:
        """resourceNames the valid policies provide (a network naming another one gets a warning)."""
        return {policy.resource_name for policy in self.prepared().policies}

    def _invalidate(self) -> None:
        self._prep = None

    def _unchanged(self, ref: ObjectRef, key: str | None) -> bool:
        if key is None:
            return self._inputs_seen.pop(ref, None) is None
        if self._inputs_seen.get(ref) == key:
            return True
        self._inputs_seen[ref] = key
        return False

    def _parse(self, model: type[BaseModel], body: Mapping[str, Any], ref: ObjectRef) -> Any:
        obj, problems = parse_object(model, body, ref, FROM_API)
        if problems:
            self._parse_problems[ref] = problems
        else:
            self._parse_problems.pop(ref, None)
        return obj

    # --- setters: each returns what must be re-rendered -----------------------------------------

    def set_node(self, obj: Mapping[str, Any]) -> bool:
        node = node_from_json(obj)
        if self.cluster.nodes.get(node.name) == node:
            return False
        self.cluster.nodes[node.name] = node
        self._invalidate()
        return True

    def remove_node(self, name: str) -> bool:
        if self.cluster.nodes.pop(name, None) is None:
            return False
        self._invalidate()
        return True

    def set_node_state(self, obj: Mapping[str, Any]) -> bool:
        ref = _ref(obj, SriovNetworkNodeState.KIND, self.operator_namespace)
        if ref.namespace != self.operator_namespace:
            return False
        interfaces = discovered_interfaces(obj)
        body: dict[str, Any] = {"metadata": {"name": ref.name, "namespace": ref.namespace}}
        if interfaces:
            body["status"] = {"interfaces": interfaces}
        else:
            body["spec"] = obj.get("spec") or {}
        if self._unchanged(ref, json.dumps(body, sort_keys=True)):
            return False
        state = self._parse(SriovNetworkNodeState, body, ref)
        if state is None:
            self.cluster.node_states.pop(ref.name, None)
            self.cluster.invalid_node_states.add(ref.name)  # exists: "not discovered" must not say missing
        else:
            self.cluster.node_states[ref.name] = state
            self.cluster.invalid_node_states.discard(ref.name)
        return True

    def remove_node_state(self, name: str) -> bool:
        self._unchanged(
            ObjectRef(kind=SriovNetworkNodeState.KIND, namespace=self.operator_namespace, name=name), None
        )
        was_invalid = name in self.cluster.invalid_node_states
        self.cluster.invalid_node_states.discard(name)
        return self.cluster.node_states.pop(name, None) is not None or was_invalid

    def set_policy(self, obj: Mapping[str, Any]) -> frozenset[str]:
        ref = _ref(obj, SriovNetworkNodePolicy.KIND, self.operator_namespace)
        if ref.namespace != self.operator_namespace or ref.name == DEFAULT_POLICY_NAME:
            return frozenset()
        if self._unchanged(ref, _spec_key(obj)):
            return frozenset()
        before = dict(self.index())
        body = apply_policy_defaults({k: v for k, v in obj.items() if k != "status"})
        policy = self._parse(SriovNetworkNodePolicy, body, ref)
        if policy is None:
            self._policies.pop(ref.name, None)
        else:
            self._policies[ref.name] = policy
        self._invalidate()
        return nodes_affected_by_policy_change(before, self.prepared(), ref.name)

    def remove_policy(self, name: str) -> frozenset[str]:
        ref = ObjectRef(kind=SriovNetworkNodePolicy.KIND, namespace=self.operator_namespace, name=name)
        self._unchanged(ref, None)
        self._parse_problems.pop(ref, None)
        if self._policies.pop(name, None) is None:
            return frozenset()
        before = dict(self.index())
        self._invalidate()
        return nodes_affected_by_policy_change(before, self.prepared(), name)

    def set_pool(self, obj: Mapping[str, Any]) -> bool:
        ref = _ref(obj, SriovNetworkPoolConfig.KIND, self.operator_namespace)
        if ref.namespace != self.operator_namespace or self._unchanged(ref, _spec_key(obj)):
            return False
        pool = self._parse(SriovNetworkPoolConfig, {k: v for k, v in obj.items() if k != "status"}, ref)
        if pool is None:
            self._pools.pop(ref.name, None)
        else:
            self._pools[ref.name] = pool
        self._invalidate()
        return True

    def remove_pool(self, name: str) -> bool:
        self._unchanged(
            ObjectRef(kind=SriovNetworkPoolConfig.KIND, namespace=self.operator_namespace, name=name), None
        )
        if self._pools.pop(name, None) is None:
            return False
        self._invalidate()
        return True

    def set_operator_config(self, obj: Mapping[str, Any] | None) -> bool:
        """The ``default`` SriovOperatorConfig (None when it is gone); other names are not inputs."""
        ref = ObjectRef(
            kind=SriovOperatorConfig.KIND,
            namespace=self.operator_namespace,
            name=DEFAULT_OPERATOR_CONFIG_NAME,
        )
        if obj is not None and _ref(obj, ref.kind, self.operator_namespace) != ref:
            return False
        if self._unchanged(ref, None if obj is None else _spec_key(obj)):
            return False
        config = None
        if obj is not None:
            config = self._parse(SriovOperatorConfig, {k: v for k, v in obj.items() if k != "status"}, ref)
        self.cluster.operator_config = config
        self._invalidate()
        return True

    def set_supported_nics(self, data: Mapping[str, str] | None) -> bool:
        """The supported-nic-ids ConfigMap's data (None when it is gone)."""
        new = {str(k): str(v) for k, v in (data or {}).items()}
        if new == self.cluster.supported_nic_data:
            return False
        self.cluster.supported_nic_data = new
        self._invalidate()
        return True
