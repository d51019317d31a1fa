"""The network-resources injector: a pod asking for SR-IOV networks gets their device resources.

A pod lists its extra networks in the ``k8s.v1.cni.cncf.io/networks`` annotation,
either as a comma list of ``[namespace/]name[@interface]`` or as a JSON list of
``{"name", "namespace", "interface"}`` objects.  Each network is a
NetworkAttachmentDefinition; the ones rendered from our network kinds carry
``k8s.v1.cni.cncf.io/resourceName: <prefix>/<resource>``.  The first container
gets that resource in its requests and limits, as many as networks use it, so
the scheduler places the pod where the VFs are and the device plugin hands
them over.  Looking the NADs up is the caller's job; this module only decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.constants import NAD_RESOURCE_NAME_ANNOTATION, POD_NETWORKS_ANNOTATION
from sriov_operator.errors import BadInputError
from sriov_operator.webhook.admission import Verdict

ANNOTATION_FIELD = f'metadata.annotations["{POD_NETWORKS_ANNOTATION}"]'
NadKey = tuple[str, str]  # (namespace, name)
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class NetworksAnnotationError(BadInputError):
    """The pod's networks annotation cannot be read."""


@dataclass(frozen=True)
class NetworkRef:
    namespace: str
    name: str


def _pod_ref(pod: Mapping[str, Any], namespace: str) -> str:
    metadata = pod.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName") or "?"
    return f"Pod/{namespace}/{name}"


def _short_form(text: str, namespace: str) -> list[NetworkRef]:
    refs = []
    for raw in text.split(","):
        entry = raw.strip().split("@", 1)[0]
        if not entry:
            continue
        parts = entry.split("/")
        if len(parts) > 2 or not all(_DNS_NAME.match(part) for part in parts):
            raise NetworksAnnotationError(
                f"{raw.strip()!r} is not '[namespace/]name[@interface]'; accepted e.g. 'sriov-net1' "
                "or 'other-ns/sriov-net1@net1', comma separated, or a JSON list"
            )
        refs.append(NetworkRef(*parts) if len(parts) == 2 else NetworkRef(namespace, parts[0]))
    return refs


def _json_form(text: str, namespace: str) -> list[NetworkRef]:
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NetworksAnnotationError(f"is not valid JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(entries, list):
        raise NetworksAnnotationError('must be a JSON list of objects, e.g. [{"name": "sriov-net1"}]')
    refs = []
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise NetworksAnnotationError(
                f'entry {index} ({json.dumps(entry)}) needs a "name" string, e.g. {{"name": "sriov-net1"}}'
            )
        refs.append(NetworkRef(str(entry.get("namespace") or namespace), name))
    return refs


def requested_networks(pod: Mapping[str, Any], namespace: str) -> list[NetworkRef]:
    """The networks the pod's annotation names (none without it); raises NetworksAnnotationError."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    text = str(annotations.get(POD_NETWORKS_ANNOTATION) or "").strip()
    if not text:
        return []
    return _json_form(text, namespace) if text.startswith("[") else _short_form(text, namespace)


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
    containers = (pod.get("spec") or {}).get("containers") or []
    if not counts or not containers:
        return Verdict()
    return Verdict(patch=tuple(_resource_patch(containers[0], counts)))
