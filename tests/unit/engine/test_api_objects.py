"""The operator's input path: objects as the API server returns them."""

from __future__ import annotations

from sriov_operator.engine.inputs import read_api_objects
from sriov_operator.engine.render import render_cluster
from tests.unit.engine.builders import NS, node, pf, policy, state


def _state_with_vfs() -> dict[str, object]:
    body = state("w1", [pf("ens1f0", "0000:3b:00.0", numVfs=2)])
    body["status"]["interfaces"][0]["Vfs"] = [{"pciAddress": "0000:3b:02.0", "vfID": 0}]
    return body


def test_api_objects_render_like_manifests_and_node_states_are_read_without_vfs() -> None:
    cluster, problems = read_api_objects([node("w1"), _state_with_vfs(), policy("p", numVfs=2)], NS)
    assert problems == []
    status = cluster.node_states["w1"].status
    assert status is not None and status.interfaces is not None
    assert status.interfaces[0].vfs is None
    spec = render_cluster(cluster, resource_prefix="openshift.io").node_states["w1"]
    assert spec["interfaces"][0]["vfGroups"][0]["vfRange"] == "0-1"


def test_an_invalid_api_object_names_its_place_in_the_list() -> None:
    _, problems = read_api_objects([node("w1"), policy("p", numVfs=-1)], NS)
    assert [str(p) for p in problems] == [
        f"SriovNetworkNodePolicy/{NS}/p: spec.numVfs: got -1; input should be greater than or equal to 0 "
        "[apiserver:2]"
    ]
