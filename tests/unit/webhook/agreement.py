"""The check that the admission webhook answers exactly as ``validate`` does, for one set of documents."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from sriov_operator.api.constants import SUPPORTED_NIC_CONFIGMAP
from sriov_operator.engine.inputs import resolve_operator_namespace
from sriov_operator.engine.problems import split_by_severity
from sriov_operator.engine.render import RenderResult
from sriov_operator.webhook.admission import (
    NETWORK_KINDS,
    VALIDATED_KINDS,
    AdmissionSettings,
    ClusterSnapshot,
    mutate_object,
    validate_object,
)
from sriov_operator.webhook.fleet import FleetIndex
from sriov_operator.webhook.parsed import ParsedObjects
from tests.unit.engine.builders import documents

_FILE_LINE = re.compile(r" \[[^\]\[]+\.yaml:\d+\]")
# advice only a command line can take (the webhook is told the operator namespace: it never guesses it)
_CLI_HINT = re.compile(r" \(pass --namespace [^)]*\)")


def cluster_words(line: str) -> str:
    """``validate``'s line as the webhook says it: no file:line, no command-line advice."""
    return _CLI_HINT.sub("", _FILE_LINE.sub("", line))


def apply_json_patch(body: dict[str, Any], patch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``add`` / ``replace`` of object members (all our webhooks emit), as the API server applies them."""
    result = copy.deepcopy(body)
    for operation in patch:
        assert operation["op"] in ("add", "replace"), operation
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"][1:].split("/")]
        target = result
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target.insert(len(target) if last == "-" else int(last), operation["value"])
        else:
            target[last] = operation["value"]
    return result


def _key(body: dict[str, Any]) -> tuple[str, str, str]:
    metadata = body.get("metadata") or {}
    return (str(body.get("kind")), str(metadata.get("namespace")), str(metadata.get("name")))


def snapshot_of(
    bodies: list[dict[str, Any]], parsed: ParsedObjects | None = None, fleet_namespace: str | None = None
) -> ClusterSnapshot:
    """``bodies`` as the webhook's caches hold them; with ``fleet_namespace``, its nodes in classes too."""

    def of(*kinds: str) -> list[dict[str, Any]]:
        return [b for b in bodies if b.get("kind") in kinds]

    nic_maps = [
        b for b in of("ConfigMap") if (b.get("metadata") or {}).get("name") == SUPPORTED_NIC_CONFIGMAP
    ]
    return ClusterSnapshot(
        nodes=of("Node"),
        node_states=of("SriovNetworkNodeState"),
        policies=of("SriovNetworkNodePolicy"),
        pools=of("SriovNetworkPoolConfig"),
        operator_configs=of("SriovOperatorConfig"),
        networks=of(*NETWORK_KINDS),
        supported_nics=nic_maps[0] if nic_maps else None,
        parsed=parsed,
        fleet=(
            FleetIndex.of(of("Node"), of("SriovNetworkNodeState"), parsed, fleet_namespace)
            if fleet_namespace is not None and parsed is not None
            else None
        ),
    )


def assert_webhook_agrees(
    bodies: list[dict[str, Any]], offline: RenderResult, *, namespace: str | None, strict_nics: bool
) -> None:
    operator_namespace = resolve_operator_namespace(documents(bodies), namespace)
    stored = []
    # as the API server holds them: every namespaced object has a namespace, every object a version
    for version, original in enumerate(bodies, 1):
        body = copy.deepcopy(original)
        metadata = body.setdefault("metadata", {})
        if body.get("kind") != "Node":
            metadata.setdefault("namespace", operator_namespace)
        metadata.setdefault("resourceVersion", str(version))
        stored.append(body)
    parsed = ParsedObjects()  # as the webhook keeps it across reviews
    settings = AdmissionSettings(operator_namespace, "openshift.io", strict_nics)
    offline_errors, offline_warnings = split_by_severity(offline.problems)
    keys = [_key(body) for body in stored]
    for body in stored:
        if body.get("kind") not in VALIDATED_KINDS or keys.count(_key(body)) > 1:
            continue  # a duplicate cannot exist in a cluster: the second copy is an update
        others = [other for other in stored if other is not body]
        reviewed = apply_json_patch(body, mutate_object(body).patch)
        kind, ns, name = _key(body)
        prefix = f"{kind}/{ns}/{name}: "
        expected_errors = [cluster_words(e) for e in offline_errors if e.startswith(prefix)]
        expected_warnings = [cluster_words(w) for w in offline_warnings if w.startswith(prefix)]
        for fleet in (None, operator_namespace):  # every node handed over, or one per class
            verdict = validate_object(reviewed, None, snapshot_of(others, parsed, fleet), settings)
            how = "by node class" if fleet else "node by node"
            assert list(verdict.errors) == expected_errors, f"{prefix}webhook errors ({how}) differ"
            assert list(verdict.warnings) == expected_warnings, f"{prefix}webhook warnings ({how}) differ"
