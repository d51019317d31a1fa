"""The webhook's memo of what the engine read of cached objects: kept per resourceVersion, bounded."""

from __future__ import annotations

from typing import Any

from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot, validate_object
from sriov_operator.webhook.parsed import ParsedObjects

NAMESPACE = "ops"


def state(name: str, version: str, totalvfs: int = 16) -> dict[str, Any]:
    interface = {
        "name": "ens1f0",
        "pciAddress": "0000:3b:00.0",
        "vendor": "8086",
        "deviceID": "158b",
        "totalvfs": totalvfs,
        "linkType": "ETH",
    }
    return {
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": NAMESPACE, "resourceVersion": version},
        "status": {"interfaces": [interface]},
    }


def test_an_object_is_read_once_per_resource_version() -> None:
    parsed = ParsedObjects()
    first = parsed.read(state("w1", "1"), NAMESPACE)
    assert first.obj is not None and first.obj.status.interfaces[0].totalvfs == 16
    assert parsed.read(state("w1", "1"), NAMESPACE) is first
    changed = parsed.read(state("w1", "2", totalvfs=8), NAMESPACE)
    assert changed.obj.status.interfaces[0].totalvfs == 8
    assert (parsed.hits, parsed.misses, len(parsed)) == (1, 2, 1)
    # read under another operator namespace, the same version is another reading
    assert parsed.read(state("w1", "2"), "elsewhere").obj is None


def test_forgotten_and_unversioned_objects_are_read_again() -> None:
    parsed = ParsedObjects()
    kept = parsed.read(state("w1", "1"), NAMESPACE)
    parsed.forget("SriovNetworkNodeState", state("w1", "1"))
    assert len(parsed) == 0
    assert parsed.read(state("w1", "1"), NAMESPACE) is not kept
    unversioned = state("w2", "")
    assert parsed.read(unversioned, NAMESPACE) is not parsed.read(unversioned, NAMESPACE)
    assert len(parsed) == 1


def test_at_most_capacity_entries_least_recently_used_out_first() -> None:
    parsed = ParsedObjects(capacity=2)
    one = parsed.read(state("w1", "1"), NAMESPACE)
    parsed.read(state("w2", "1"), NAMESPACE)
    assert parsed.read(state("w1", "1"), NAMESPACE) is one  # w1 used last: w2 goes first
    parsed.read(state("w3", "1"), NAMESPACE)
    assert len(parsed) == 2
    assert parsed.read(state("w1", "1"), NAMESPACE) is one
    misses = parsed.misses
    parsed.read(state("w2", "1"), NAMESPACE)
    assert parsed.misses == misses + 1


def test_a_new_resource_version_changes_the_answer() -> None:
    """The memo never answers from an old version, even when no informer event dropped it."""
    labels = {"node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux", "sriov": "y"}
    node = {"kind": "Node", "metadata": {"name": "w1", "labels": labels, "resourceVersion": "1"}}
    policy = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "p", "namespace": NAMESPACE},
        "spec": {
            "resourceName": "p",
            "nodeSelector": {"sriov": "y"},
            "numVfs": 12,
            "nicSelector": {"pfNames": ["ens1f0"]},
        },
    }
    parsed = ParsedObjects()
    settings = AdmissionSettings(NAMESPACE)

    def verdict(*states: dict[str, Any]) -> tuple[str, ...]:
        snapshot = ClusterSnapshot(nodes=[node], node_states=list(states), parsed=parsed)
        return validate_object(policy, None, snapshot, settings).errors

    assert verdict(state("w1", "1", totalvfs=16)) == ()
    (error,) = verdict(state("w1", "2", totalvfs=8))
    assert "spec.numVfs: 12 is above totalvfs 8 of PF ens1f0" in error
