"""The network-resources injector: a pod asking for SR-IOV networks gets their device resources.

A pod lists its extra networks in the ``k8s.v1.cni.cncf.io/networks`` annotation,
either as a comma list of ``[namespace/]name[@interface]`` or as a JSON list of
``{"name", "namespace", "interface"}`` objects.  Each network is a
NetworkAttachmentDefinition; the ones rendered from our network kinds carry
``k8s.v1.cni.cncf.io/resourceName: <prefix>/<resource>``.  The first container
gets that resource in its requests and limits, as many as networks use it, so
the scheduler places the pod where the VFs are and the device plugin hands
them over.  Looking the NADs up is the caller's job; this module only decides.

Every namespace and name is checked before anyone looks it up: a namespace must be
a DNS-1123 label, a name a DNS-1123 subdomain (what the API server accepts for
them), so nothing like ``../secrets/x`` or ``a?watch=true`` ever reaches a lookup
or a request path.  A pod names at most ``MAX_NETWORKS`` distinct networks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.constants import NAD_RESOURCE_NAME_ANNOTATION, POD_NETWORKS_ANNOTATION
from sriov_operator.api.names import is_dns1123_label, is_dns1123_subdomain
from sriov_operator.errors import BadInputError, TransientError
from sriov_operator.webhook.admission import Verdict

ANNOTATION_FIELD = f'metadata.annotations["{POD_NETWORKS_ANNOTATION}"]'
NadKey = tuple[str, str]  # (namespace, name)
MAX_NETWORKS = 32  # distinct networks one pod may name
_ACCEPTED_FORMS = (
    "accepted e.g. 'sriov-net1' or 'other-ns/sriov-net1@net1', comma separated, "
    'or a JSON list like [{"name": "sriov-net1", "namespace": "other-ns"}]'
)


class NetworksAnnotationError(BadInputError):
    """The pod's networks annotation cannot be read."""


class NadLookupError(TransientError):
    """A NAD the pod names could not be looked up (the caller's lookup failed or timed out)."""


@dataclass(frozen=True)
class NetworkRef:
    namespace: str
    name: str


def _pod_ref(pod: Mapping[str, Any], namespace: str) -> str:
    metadata = pod.get("metadata") or {}
    name = (
        (metadata.get("name") or metadata.get("generateName") or "?")
        if isinstance(metadata, Mapping)
        else "?"
    )
    return f"Pod/{namespace}/{name}"


def _checked(namespace: Any, name: Any, entry: str) -> NetworkRef:
    """The reference, once ``namespace`` is a DNS-1123 label and ``name`` a DNS-1123 subdomain."""
    if not isinstance(namespace, str) or not is_dns1123_label(namespace):
        raise NetworksAnnotationError(
            f"{entry}: namespace {json.dumps(namespace)} is not a DNS-1123 label (lowercase letters, "
            "digits and '-', at most 63 characters)"
        )
    if not isinstance(name, str) or not is_dns1123_subdomain(name):
        raise NetworksAnnotationError(
            f"{entry}: name {json.dumps(name)} is not a DNS-1123 subdomain (lowercase letters, digits, "
            "'-' and '.', at most 253 characters)"
        )
    return NetworkRef(namespace, name)


def _short_form(text: str, namespace: str) -> list[NetworkRef]:
    refs = []
    for raw in text.split(","):
        entry = raw.strip().split("@", 1)[0]
        if not entry:
            continue
        parts = entry.split("/")
        where = repr(raw.strip())
        if len(parts) > 2:
            raise NetworksAnnotationError(f"{where} is not '[namespace/]name[@interface]': {_ACCEPTED_FORMS}")
        space, name = parts if len(parts) == 2 else (namespace, entry)
        try:
            refs.append(_checked(space, name, where))
        except NetworksAnnotationError as exc:
            raise NetworksAnnotationError(
                f"{exc}; not '[namespace/]name[@interface]': {_ACCEPTED_FORMS}"
            ) from exc
    return refs


def _json_form(text: str, namespace: str) -> list[NetworkRef]:
    try:
        entries = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" ({exc.msg} at character {exc.pos})" if isinstance(exc, json.JSONDecodeError) else ""
        raise NetworksAnnotationError(f"is not valid JSON{where}; {_ACCEPTED_FORMS}") from exc
    if not isinstance(entries, list):
        raise NetworksAnnotationError(f"must be a JSON list of objects; {_ACCEPTED_FORMS}")
    refs = []
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise NetworksAnnotationError(
                f'entry {index} ({json.dumps(entry)[:200]}) needs a "name" string, '
                'e.g. {"name": "sriov-net1"}'
            )
        refs.append(_checked(entry.get("namespace") or namespace, name, f"entry {index}"))
    return refs


def requested_networks(pod: Mapping[str, Any], namespace: str) -> list[NetworkRef]:
    """The networks the pod's annotation names (none without it); raises NetworksAnnotationError.

    Every reference returned has a valid namespace and name; at most MAX_NETWORKS distinct ones.
    """
    metadata = pod.get("metadata") or {}
    annotations = metadata.get("annotations") or {} if isinstance(metadata, Mapping) else {}
    value = annotations.get(POD_NETWORKS_ANNOTATION) if isinstance(annotations, Mapping) else None
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return []
    refs = _json_form(text, namespace) if text.startswith("[") else _short_form(text, namespace)
    distinct = len(set(refs))
    if distinct > MAX_NETWORKS:
        raise NetworksAnnotationError(
            f"names {distinct} distinct networks; accepted: at most {MAX_NETWORKS} per pod"
        )
    return refs


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _resource_patch(container: Mapping[str, Any], counts: Mapping[str, int]) -> list[dict[str, Any]]:
    base = "/spec/containers/0/resources"
    wanted = {name: str(count) for name, count in sorted(counts.items())}
    resources = container.get("resources")
    if not isinstance(resources, Mapping):
        return [{"op": "add", "path": base, "value": {"requests": wanted, "limits": dict(wanted)}}]
    patch = []
    for section in ("requests", "limits"):
        current = resources.get(section)
        if not isinstance(current, Mapping):
            patch.append({"op": "add", "path": f"{base}/{section}", "value": dict(wanted)})
            continue
        patch += [
            {
                "op": "replace" if name in current else "add",
                "path": f"{base}/{section}/{_escape(name)}",
                "value": value,
            }
            for name, value in wanted.items()
            if str(current.get(name)) != value
        ]
    return patch


def lookup_failed(pod: Mapping[str, Any], namespace: str, failure: NadLookupError) -> Verdict:
    """The denial when the NADs could not be looked up: the pod's creation may be retried."""
    return Verdict(errors=(f"{_pod_ref(pod, namespace)}: {ANNOTATION_FIELD}: {failure}",))


def inject_resources(
    pod: Mapping[str, Any], namespace: str, nads: Mapping[NadKey, Mapping[str, Any] | None]
) -> Verdict:
    """The admission answer for a pod: ``nads`` holds every NAD the pod names (None: not found)."""
    prefix = f"{_pod_ref(pod, namespace)}: {ANNOTATION_FIELD}: "
    try:
        networks = requested_networks(pod, namespace)
    except NetworksAnnotationError as exc:
        return Verdict(errors=(prefix + str(exc),))
    missing = sorted({f"{n.namespace}/{n.name}" for n in networks if nads.get((n.namespace, n.name)) is None})
    if missing:
        return Verdict(
            errors=(
                f"{prefix}NetworkAttachmentDefinition {', '.join(missing)} not found; create the network "
                "first (an SriovNetwork renders a NAD of its name in its networkNamespace) or fix the "
                "annotation",
            )
        )
    counts: dict[str, int] = {}
    for network in networks:
        nad = nads[(network.namespace, network.name)] or {}
        resource = ((nad.get("metadata") or {}).get("annotations") or {}).get(NAD_RESOURCE_NAME_ANNOTATION)
        if resource:
            counts[str(resource)] = counts.get(str(resource), 0) + 1
    spec = pod.get("spec") or {}
    containers = (spec.get("containers") if isinstance(spec, Mapping) else None) or []
    if not counts or not containers:
        return Verdict()
    if not isinstance(containers, list) or not isinstance(containers[0], Mapping):
        return Verdict(errors=(f"{_pod_ref(pod, namespace)}: spec.containers: expected a list of objects",))
    return Verdict(patch=tuple(_resource_patch(containers[0], counts)))
