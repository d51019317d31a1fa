"""The sandbox's VMs are distinct machines on the seed article's networks, and its examples fit them."""

from __future__ import annotations

import json
from pathlib import Path

from sriov_operator.host.node import NodeHost
from sriov_operator.host.simulator.builder import load_profile
from sriov_operator.host.simulator.host_io import simulated_io
from sriov_operator.sandbox.examples import BAREMETAL_FILE, configure_policies, examples, policy_documents
from sriov_operator.sandbox.hosts import DPDK_NETWORK_ID, DPDK_PORT, OFFLOAD_NETWORK_ID, OFFLOAD_PORT
from sriov_operator.sandbox.metadata_service import MetadataService
from sriov_operator.sandbox.workers import SimulatedWorker, simulated_workers

SEED_TEXT = (Path(__file__).parents[3] / "src/sriov_operator/sandbox/examples/seed-policies.yaml").read_text()


def _vms(tmp_path: Path, count: int) -> list[SimulatedWorker]:
    return simulated_workers("openstack", count, "seed", tmp_path, MetadataService())


def _macs(worker: SimulatedWorker) -> list[str]:
    return [d.netdev.mac for d in worker.host.profile.devices if d.netdev is not None]


def test_every_vm_has_its_own_uuid_and_macs_and_its_documents_agree(tmp_path: Path) -> None:
    vms = _vms(tmp_path, 10)
    identities = [vm.host.openstack for vm in vms]
    assert all(identities)
    assert len({i.uuid for i in identities if i}) == 10
    all_macs = [mac for vm in vms for mac in _macs(vm)]
    assert len(all_macs) == len(set(all_macs)) == 40
    for vm in vms:
        assert vm.host.openstack is not None
        meta = json.loads(vm.host.openstack.meta_data)
        network = json.loads(vm.host.openstack.network_data)
        assert meta["uuid"] == vm.host.openstack.uuid and meta["name"] == vm.name
        assert vm.node()["spec"]["providerID"] == f"openstack:///{meta['uuid']}"
        assert {link["ethernet_mac_address"] for link in network["links"]} == set(_macs(vm))
        assert {d["mac"] for d in meta["devices"]} <= set(_macs(vm))


def test_half_the_vms_read_the_metadata_service_the_others_their_config_drive(tmp_path: Path) -> None:
    vms = _vms(tmp_path, 4)
    assert [vm.metadata_url is not None for vm in vms] == [True, False, True, False]
    assert vms[0].metadata_url is not None and vms[0].metadata_url.endswith("/worker-0")


def test_discovery_on_a_config_drive_vm_finds_the_article_networks_the_examples_select(
    tmp_path: Path,
) -> None:
    vm = _vms(tmp_path, 2)[1]
    vm.prepare()
    node = NodeHost.open(vm.root, io=simulated_io(vm.root), platform="openstack", provider_id=vm.provider_id)
    found = node.discover(checkpoint=False)
    assert found.metadata_source == "configDrive"
    networks = {i.pci_address: i.net_filter for i in found.interfaces}
    assert networks[DPDK_PORT] == f"openstack/NetworkID:{DPDK_NETWORK_ID}"
    assert networks[OFFLOAD_PORT] == f"openstack/NetworkID:{OFFLOAD_NETWORK_ID}"
    policies = {p["metadata"]["name"]: p for p in examples("ns", "openstack").policies}
    assert policies["dpdk1"]["spec"]["nicSelector"]["netFilter"] == networks[DPDK_PORT]
    assert policies["hwoffload1"]["spec"]["nicSelector"]["netFilter"] == networks[OFFLOAD_PORT]


def test_the_shipped_policies_are_the_article_text_with_tabs_and_the_dpdk_network_unchanged() -> None:
    assert "\tnetFilter: openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6\n" in SEED_TEXT
    assert f"openstack/NetworkID:{DPDK_NETWORK_ID}" in SEED_TEXT
    documents, warnings = policy_documents()
    assert [d.body["metadata"]["name"] for d in documents] == ["dpdk1", "hwoffload1"]
    assert any("indentation uses tabs" in w for w in warnings)
    policies, notes = configure_policies(documents, "ns", "openstack")
    dpdk, offload = policies
    assert dpdk["spec"] == {**documents[0].body["spec"]}  # dpdk1 applied as the article wrote it
    assert offload["spec"]["nicSelector"]["netFilter"] == f"openstack/NetworkID:{OFFLOAD_NETWORK_ID}"
    assert [p["metadata"]["namespace"] for p in policies] == ["ns", "ns"]
    assert len(notes) == 1 and notes[0].startswith("hwoffload1: netFilter set to")


def test_on_bare_metal_the_bare_metal_example_is_applied_and_the_output_says_why() -> None:
    """The seed's policies select Neutron networks, which no server NIC is on: they configure nothing."""
    chosen = examples("ns", "baremetal")
    assert [p["metadata"]["name"] for p in chosen.policies] == ["intel-vfs", "mellanox-vfs"]
    assert {p["metadata"]["namespace"] for p in chosen.policies} == {"ns"}
    assert {p["spec"]["resourceName"] for p in chosen.policies} == {"sriovnic"}
    assert [n["metadata"]["name"] for n in chosen.networks] == ["sriovnic-net"]  # one network per resource
    assert chosen.pod["metadata"]["annotations"] == {"k8s.v1.cni.cncf.io/networks": "sriovnic-net"}
    assert chosen.notes == [
        "bare metal: the seed's policies select OpenStack networks (netFilter), which no server NIC is on; "
        f"applying {BAREMETAL_FILE} instead"
    ]


def test_the_bare_metal_policies_select_a_port_of_each_bare_metal_profile() -> None:
    """Each worker profile has a PF the example selects, so every bare-metal worker gets ``sriovnic``."""
    documents, warnings = policy_documents(BAREMETAL_FILE)
    assert warnings == []
    selectors = {d.body["metadata"]["name"]: d.body["spec"]["nicSelector"] for d in documents}
    for profile, policy in (("baremetal-intel", "intel-vfs"), ("baremetal-mellanox", "mellanox-vfs")):
        pfs = {
            (device.vendor, device.netdev.name)
            for device in load_profile(profile).devices
            if device.sriov is not None and device.netdev is not None
        }
        [pf_name] = selectors[policy]["pfNames"]
        assert (selectors[policy]["vendor"], pf_name) in pfs, (profile, pfs)


def test_the_example_pod_names_a_network_per_policy_and_asks_for_no_device_itself() -> None:
    chosen = examples("ns", "openstack")
    assert [(n["metadata"]["name"], n["spec"]["resourceName"]) for n in chosen.networks] == [
        ("dpdk1-net", "dpdk1"),
        ("hwoffload1-net", "hwoffload1"),
    ]
    assert {n["spec"]["networkNamespace"] for n in chosen.networks} == {chosen.pod["metadata"]["namespace"]}
    assert chosen.pod["metadata"]["annotations"] == {
        "k8s.v1.cni.cncf.io/networks": "dpdk1-net,hwoffload1-net"
    }
    assert "resources" not in chosen.pod["spec"]["containers"][0]
