"""Parsed manifests → the typed objects the engine works on, with every problem named.

The operator namespace is ``--namespace`` when given; otherwise the namespace of
objects only the operator owns (the ``default`` SriovOperatorConfig and the
SriovNetworkNodeStates) when they agree on one; otherwise the built-in default.
Objects without a namespace are read as being in the operator namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from sriov_operator.api.constants import (
    DEFAULT_OPERATOR_CONFIG_NAME,
    DEFAULT_OPERATOR_NAMESPACE,
    DEFAULT_POLICY_NAME,
    SUPPORTED_NIC_CONFIGMAP,
)
from sriov_operator.api.documents import Document
from sriov_operator.api.meta import meta_of
from sriov_operator.api.models import (
    OVSNetwork,
    SriovIBNetwork,
    SriovNetwork,
    SriovNetworkNodePolicy,
    SriovNetworkNodeState,
    SriovNetworkPoolConfig,
    SriovOperatorConfig,
)
from sriov_operator.api.platforms import is_virtual, platform_from_provider_id
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.cycles import cycle_collector_paused
from sriov_operator.engine.mutation import apply_policy_defaults
from sriov_operator.engine.nad import Network
from sriov_operator.engine.problems import Problem, error, shown, warning

NETWORK_KINDS: dict[str, type[Network]] = {k.KIND: k for k in (SriovNetwork, SriovIBNetwork, OVSNetwork)}
OPERATOR_KINDS: dict[str, type[BaseModel]] = {
    k.KIND: k
    for k in (SriovNetworkNodePolicy, SriovNetworkNodeState, SriovNetworkPoolConfig, SriovOperatorConfig)
}
IGNORED_KINDS = frozenset({"NetworkAttachmentDefinition"})


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str]
    provider_id: str = ""

    @property
    def is_virtual(self) -> bool:
        """An OpenStack VM, by its providerID (`api.platforms`: AWS counts as bare metal)."""
        return is_virtual(platform_from_provider_id(self.provider_id))


@dataclass
class ClusterObjects:
    operator_namespace: str
    nodes: dict[str, Node] = field(default_factory=dict)
    node_states: dict[str, SriovNetworkNodeState] = field(default_factory=dict)
    policies: list[SriovNetworkNodePolicy] = field(default_factory=list)
    pools: list[SriovNetworkPoolConfig] = field(default_factory=list)
    operator_config: SriovOperatorConfig | None = None
    supported_nic_data: dict[str, str] = field(default_factory=dict)
    networks: list[Network] = field(default_factory=list)
    invalid_node_states: set[str] = field(default_factory=set)  # present, but unreadable: not used


def resolve_operator_namespace(documents: Sequence[Document], explicit: str | None) -> str:
    if explicit:
        return explicit
    owned = {
        str(meta_of(doc.body).get("namespace"))
        for doc in documents
        if meta_of(doc.body).get("namespace")
        and (
            doc.kind == SriovNetworkNodeState.KIND
            or (doc.kind == SriovOperatorConfig.KIND and meta_of(doc.body).get("name") == "default")
        )
    }
    return owned.pop() if len(owned) == 1 else DEFAULT_OPERATOR_NAMESPACE


def _field_path(loc: Sequence[int | str], body: Any) -> str:
    """pydantic's error location as ``spec.nicSelector.pfNames[0]``, without union-member tags."""
    path = ""
    current = body
    for part in loc:
        if isinstance(part, int) and isinstance(current, list) and part < len(current):
            path, current = f"{path}[{part}]", current[part]
        elif isinstance(part, str) and isinstance(current, Mapping) and part in current:
            path, current = f"{path}.{part}" if path else part, current[part]
        elif isinstance(part, str) and isinstance(current, Mapping):
            return f"{path}.{part}" if path else part  # a missing field or an unknown one
        else:
            break
    return path or "(object)"


def schema_problems(
    exc: ValidationError, body: Mapping[str, Any], ref: ObjectRef, where: str
) -> list[Problem]:
    """One problem per field: the field, the value given and what the schema accepts."""
    by_field: dict[str, list[str]] = {}
    for item in exc.errors():
        path = _field_path(item["loc"], body)
        given = "" if item["type"] in ("missing", "extra_forbidden") else f"got {shown(item['input'])}; "
        message = f"{given}{item['msg'][0].lower()}{item['msg'][1:]}"
        by_field.setdefault(path, []).append(message)
    return [
        error(ref, path, " or ".join(dict.fromkeys(msgs)) + f" [{where}]") for path, msgs in by_field.items()
    ]


def _ref(body: Mapping[str, Any], namespace: str) -> ObjectRef:
    metadata = meta_of(body)
    return ObjectRef(
        kind=str(body.get("kind") or "?"),
        namespace=str(metadata.get("namespace") or namespace),
        name=str(metadata.get("name") or "?"),
    )


def parse_object(
    model: type[BaseModel], body: Mapping[str, Any], ref: ObjectRef, where: str
) -> tuple[Any, list[Problem]]:
    """``model.model_validate`` with field-named problems instead of an exception."""
    try:
        return model.model_validate(body), []
    except ValidationError as exc:
        return None, schema_problems(exc, body, ref, where)


def _parse_node(doc: Document, ref: ObjectRef) -> tuple[Node | None, list[Problem]]:
    metadata = meta_of(doc.body)
    labels = metadata.get("labels") or {}
    spec = doc.body.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    if not metadata.get("name") or not isinstance(labels, Mapping):
        return None, [
            error(ref, "metadata", f"a Node needs metadata.name and a labels mapping [{doc.where}]")
        ]
    labels = {str(k): "" if v is None else str(v) for k, v in labels.items()}
    return Node(str(metadata["name"]), labels, str(spec.get("providerID") or "")), []


@dataclass(frozen=True)
class ReadObject:
    """One document read on its own: its ref, the typed object (None when unusable), its problems.

    Reading depends only on the document and the operator namespace, so a caller that sees
    the same object again (the webhook: the same resourceVersion) may keep and reuse it.
    """

    ref: ObjectRef | None  # None: not an input of the engine
    obj: Any
    problems: tuple[Problem, ...] = ()

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def _outside_namespace(ref: ObjectRef, namespace: str, where: str, guessed: bool) -> list[Problem]:
    """An object the operator never reads; ``guessed``: no namespace was given, so say how to give one."""
    if ref.namespace == namespace:
        return []
    hint = f" (pass --namespace {ref.namespace} if that is where the operator runs)" if guessed else ""
    return [
        warning(
            ref,
            "metadata.namespace",
            f"{ref.namespace!r} is not the operator namespace {namespace!r}, so this object has no "
            f"effect{hint} [{where}]",
        )
    ]


def _read_nic_configmap(
    body: Mapping[str, Any], ref: ObjectRef, namespace: str, where: str, guessed: bool
) -> ReadObject:
    outside = _outside_namespace(ref, namespace, where, guessed)
    if outside:
        return ReadObject(ref, None, tuple(outside))
    data = body.get("data") or {}
    if not isinstance(data, Mapping):
        problem = error(ref, "data", f"must be a mapping of label: '<vendor> <PF id> <VF id>' [{where}]")
        return ReadObject(ref, None, (problem,))
    return ReadObject(ref, {str(k): str(v) for k, v in data.items()})


def _read_operator_object(
    body: dict[str, Any], ref: ObjectRef, namespace: str, where: str, guessed: bool
) -> ReadObject:
    outside = _outside_namespace(ref, namespace, where, guessed)
    if outside:
        return ReadObject(ref, None, tuple(outside))
    if ref.kind == SriovNetworkNodePolicy.KIND:
        if ref.name == DEFAULT_POLICY_NAME:
            return ReadObject(ref, None)
        body = apply_policy_defaults(body)
    if ref.kind == SriovOperatorConfig.KIND and ref.name != DEFAULT_OPERATOR_CONFIG_NAME:
        problem = error(
            ref, "metadata.name", f"only the SriovOperatorConfig named 'default' counts; ignored [{where}]"
        )
        return ReadObject(ref, None, (problem,))
    obj, problems = parse_object(OPERATOR_KINDS[ref.kind], body, ref, where)
    return ReadObject(ref, obj, tuple(problems))


def _metadata_problems(body: Mapping[str, Any], ref: ObjectRef, where: str) -> list[Problem]:
    """What the API server refuses in metadata before any schema: not a mapping, no string name."""
    metadata = body.get("metadata")
    if not isinstance(metadata, Mapping):
        given = "nothing" if metadata is None else shown(metadata)[:80]
        return [error(ref, "metadata", f"got {given}; must be a mapping with at least a name [{where}]")]
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        given = "no name" if name is None else shown(name)[:80]
        return [error(ref, "metadata.name", f"got {given}; a non-empty string is required [{where}]")]
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        return [error(ref, "metadata.namespace", f"got {shown(namespace)[:80]}; must be a string [{where}]")]
    return []


def read_object(doc: Document, namespace: str, *, namespace_guessed: bool = False) -> ReadObject:
    """One document as the engine takes it (objects without a namespace are in ``namespace``).

    ``namespace_guessed``: the caller was not told the operator namespace (the CLI without
    ``--namespace``), so a problem may say how to tell it.
    """
    if doc.kind in NETWORK_KINDS or doc.kind in OPERATOR_KINDS:
        broken = _metadata_problems(doc.body, _ref(doc.body, namespace), doc.where)
        if broken:
            return ReadObject(None, None, tuple(broken))
    body = dict(doc.body)
    metadata = dict(meta_of(body))
    metadata.setdefault("namespace", namespace)
    if doc.kind == "Node":
        metadata.pop("namespace")
    body["metadata"] = metadata
    ref = _ref(body, namespace)
    if doc.kind == "Node":
        node, problems = _parse_node(doc, ref)
        return ReadObject(ref, node, tuple(problems))
    if doc.kind == "ConfigMap" and metadata.get("name") == SUPPORTED_NIC_CONFIGMAP:
        return _read_nic_configmap(body, ref, namespace, doc.where, namespace_guessed)
    if doc.kind in NETWORK_KINDS:
        network, problems = parse_object(NETWORK_KINDS[doc.kind], body, ref, doc.where)
        return ReadObject(ref, network, tuple(problems))
    if doc.kind in OPERATOR_KINDS:
        return _read_operator_object(body, ref, namespace, doc.where, namespace_guessed)
    if doc.kind in IGNORED_KINDS:
        return ReadObject(None, None)
    problem = warning(
        ref, "kind", f"{doc.kind or 'no kind'!r} is not an input of the policy engine; ignored [{doc.where}]"
    )
    return ReadObject(None, None, (problem,))


def _assemble(operator_namespace: str, read: Iterable[ReadObject]) -> tuple[ClusterObjects, list[Problem]]:
    """Place every usable object; an object defined more than once is an error and every copy ignored."""
    cluster = ClusterObjects(operator_namespace)
    problems: list[Problem] = []
    seen: dict[ObjectRef, list[Any]] = {}
    for item in read:
        problems.extend(item.problems)
        if item.ref is not None and item.obj is not None:
            seen.setdefault(item.ref, []).append(item.obj)
        elif item.ref is not None and item.ref.kind == SriovNetworkNodeState.KIND and item.has_errors:
            cluster.invalid_node_states.add(item.ref.name)
    placers: dict[str, Callable[[Any], None]] = {
        "Node": lambda n: cluster.nodes.__setitem__(n.name, n),
        "ConfigMap": cluster.supported_nic_data.update,
        SriovNetworkNodeState.KIND: lambda s: cluster.node_states.__setitem__(s.name, s),
        SriovNetworkNodePolicy.KIND: cluster.policies.append,
        SriovNetworkPoolConfig.KIND: cluster.pools.append,
        SriovOperatorConfig.KIND: lambda c: setattr(cluster, "operator_config", c),
        **{kind: cluster.networks.append for kind in NETWORK_KINDS},
    }
    for ref in sorted(seen):
        copies = seen[ref]
        if len(copies) > 1:
            problems.append(
                error(ref, "metadata.name", f"defined {len(copies)} times in the inputs; every copy ignored")
            )
            continue
        placers[ref.kind](copies[0])
    return cluster, problems


def read_documents(
    documents: Sequence[Document], namespace: str | None = None, *, already_read: Iterable[ReadObject] = ()
) -> tuple[ClusterObjects, list[Problem]]:
    """Typed objects (policy defaults applied, objects outside the operator namespace dropped), problems.

    ``already_read``: objects the caller read before with `read_object` (in the same operator
    namespace), taken as if their documents were among ``documents``.
    """
    operator_namespace = resolve_operator_namespace(documents, namespace)
    read = [read_object(doc, operator_namespace, namespace_guessed=not namespace) for doc in documents]
    return _assemble(operator_namespace, [*read, *already_read])


API_SOURCE = "apiserver"


def _without_vfs(iface: Mapping[str, Any]) -> dict[str, Any]:
    copy = dict(iface)
    copy.pop("Vfs", None)
    return copy


def _engine_view(body: dict[str, Any]) -> dict[str, Any]:
    """A NodeState without the VFs of its interfaces: no rule reads them, and they are most of its size."""
    status = body.get("status")
    if body.get("kind") != SriovNetworkNodeState.KIND or not isinstance(status, Mapping):
        return body
    interfaces = status.get("interfaces")
    if not isinstance(interfaces, list):
        return body
    trimmed = [_without_vfs(iface) if isinstance(iface, Mapping) else iface for iface in interfaces]
    return {**body, "status": {**status, "interfaces": trimmed}}


@cycle_collector_paused()
def read_api_objects(
    bodies: Iterable[Mapping[str, Any]], namespace: str
) -> tuple[ClusterObjects, list[Problem]]:
    """Objects as the API server returns them (the items of list calls, as plain JSON dicts).

    The operator's path on every full resync.  NodeStates are read without their VFs
    (``status.interfaces[].Vfs``), which the API server has checked against the CRD already.
    Problems name an object's place in ``bodies`` as ``apiserver:<n>``.
    """
    documents = [
        Document(API_SOURCE, number, _engine_view(dict(body))) for number, body in enumerate(bodies, start=1)
    ]
    return read_documents(documents, namespace)
