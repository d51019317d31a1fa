"""No Python repr reaches a user: fuzzed invalid policies and networks, every message the engine and
webhook give.

Values in messages are shown as YAML/JSON (``true``, ``null``, ``{"ovs":{}}``). A message
with ``Bridge(``, ``None)``, ``True``, ``False`` or a dict or list repr leaks the implementation. The fuzzed
strings are lower-case, so any such word in a message comes from us.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriov_operator.webhook.admission import AdmissionSettings, mutate_object, validate_object
from tests.unit.engine.builders import NS, node, pf, policy, render, state, worker
from tests.unit.webhook.agreement import apply_json_patch, snapshot_of

PYTHON_REPR = re.compile(r"\b[A-Z][A-Za-z]*\(|\bNone\b|\bTrue\b|\bFalse\b|\{'|\['")

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=300),
    st.sampled_from(["", "eth", "ib", "ETH", "netdevice", "vfio-pci", "switchdev", "legacy", "a#0-9", "x"]),
    st.text(alphabet="abc#-:/0189", max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["ovs", "bridge", "uplink", "a"]), inner)
    ),
    max_leaves=6,
)
SPEC_FIELDS = st.sampled_from(
    [
        "numVfs",
        "priority",
        "mtu",
        "deviceType",
        "isRdma",
        "needVhostNet",
        "linkType",
        "eSwitchMode",
        "vdpaType",
        "excludeTopology",
        "externallyManaged",
        "bridge",
        "resourceName",
        "nodeSelector",
        "nicSelector",
    ]
)
SELECTORS = st.sampled_from(
    [
        {"pfNames": ["ens1f0"]},
        {"pfNames": ["ens1f0#0-3", "ens1f9"]},
        {"vendor": "8086", "deviceID": "158b"},
        {"netFilter": "openstack/NetworkID:n1"},
        {"rootDevices": ["0000:3b:00.0"]},
    ]
)
VM_PORT = {**pf("ens4", "0000:00:04.0", vendor="15b3", device="101e", numVfs=1, totalvfs=1)}
CLUSTER = [
    *worker("w1"),
    node("vm1", {"sriov": "true"}, provider_id="openstack:///x"),
    state("vm1", [{**VM_PORT, "netFilter": "openstack/NetworkID:n1"}]),
]


@st.composite
def invalid_policies(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Two policies sharing a resource, each with a few fields set to anything."""
    bodies = []
    for name in ("a", "b"):
        body = policy(name, resourceName="shared", nicSelector=draw(SELECTORS))
        for field in draw(st.lists(SPEC_FIELDS, min_size=1, max_size=4, unique=True)):
            body["spec"][field] = draw(VALUES)
        bodies.append(body)
    return bodies


NETWORK_FIELDS = st.sampled_from(
    ["vlan", "vlanQoS", "ipam", "capabilities", "spoofChk", "trust", "linkState", "minTxRate", "metaPlugins"]
)


@st.composite
def invalid_networks(draw: st.DrawFn) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {"resourceName": "shared"}
    for field in draw(st.lists(NETWORK_FIELDS, min_size=1, max_size=4, unique=True)):
        spec[field] = draw(VALUES)
    network = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetwork",
        "metadata": {"name": "net", "namespace": NS},
        "spec": spec,
    }
    return [network]


def _webhook_messages(bodies: list[dict[str, Any]]) -> list[str]:
    said = []
    for body in bodies:
        reviewed = apply_json_patch(body, mutate_object(body).patch)
        verdict = validate_object(reviewed, None, snapshot_of(CLUSTER), AdmissionSettings(NS))
        said += [*verdict.errors, *verdict.warnings]
    return said


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(invalid_policies(), invalid_networks()))
def test_no_message_shows_a_python_value(bodies: list[dict[str, Any]]) -> None:
    offline = [str(problem) for problem in render([*CLUSTER, *bodies]).problems]
    for message in [*offline, *_webhook_messages(bodies)]:
        assert not PYTHON_REPR.search(message), message


def test_the_reported_leaks_read_as_yaml() -> None:
    bridge = policy("hw", numVfs=1, nicSelector={"netFilter": "openstack/NetworkID:n1"}, bridge={"ovs": {}})
    vdpa = policy("v", vdpaType="virtio")
    apart = [
        policy("a", resourceName="r", excludeTopology=True),
        policy("b", resourceName="r", nicSelector={"pfNames": ["ens1f1"]}),
    ]
    said = [str(p) for p in render([*worker(), bridge, vdpa, *apart]).problems]
    assert any('spec.bridge: must be empty with netFilter (got {"ovs":{}})' in m for m in said), said
    assert any("(got deviceType 'netdevice', eSwitchMode '')" in m for m in said), said
    assert any("spec.excludeTopology: true differs from false" in m for m in said), said
