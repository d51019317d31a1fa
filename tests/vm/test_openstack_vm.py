"""An OpenStack VM on a real kernel: three virtio ports, a config drive, Nova's metadata service.

One boot runs the whole scenario (`openstack`); each test asserts on one part of
it.  The ports carry Neutron MACs (``fa:16:3e:…``): management (on QEMU's user
network, where the metadata service answers at 169.254.169.254), a vhost-user
port for DPDK, and another network that Nova's metadata puts at a wrong PCI
address (as it can on q35).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from sriov_operator.host.simulator.config_drive_image import write_config_drive_image
from sriov_vmtest.bundle import Bundle
from sriov_vmtest.nova import METADATA_DIR, NETWORK_OF, nova_documents, provider_id
from sriov_vmtest.profiles import DPDK_PORT, MANAGEMENT_PORT, OTHER_PORT, openstack_vm, pci_address
from sriov_vmtest.relay import UnixToLoopbackBridge
from tests.support import FIXTURES
from tests.vm.support import GUEST_TOOLS, Scenario, booted, metadata_service

pytestmark = [pytest.mark.vm, pytest.mark.timeout(1800)]  # the first test pays for the boot and scenario

MANAGEMENT = MANAGEMENT_PORT
PCI = {nic: pci_address(nic) for nic in (MANAGEMENT, DPDK_PORT, OTHER_PORT)}
NOVA_WRONG_ADDRESS = "0000:00:07.0"  # where Nova says OTHER_PORT is
NODE_NAME = "sriov-test-vm"
STATE_FILE = "/tmp/state.yaml"
NODE_LABELS = {  # a worker the operator manages, marked SR-IOV capable (the seed policy's node selector)
    "node-role.kubernetes.io/worker": "",
    "kubernetes.io/os": "linux",
    "feature.node.kubernetes.io/network-sriov.capable": "true",
}


def node_state_spec(discovered: dict[str, object], work: Path) -> dict[str, object]:
    """What the operator's engine renders for this VM and the seed's DPDK policy (the real CLI)."""
    inputs = work / "cluster.yaml"
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": NODE_LABELS,
        },
        "spec": {"providerID": provider_id()},
    }
    state = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": NODE_NAME, "namespace": "openshift-sriov-network-operator"},
        "status": {"interfaces": discovered["interfaces"]},
    }
    inputs.write_text(yaml.safe_dump_all([node, state]))
    cli = Path(sys.executable).parent / "sriov-operator"
    done = subprocess.run(
        [str(cli), "render", "-f", str(inputs), "-f", str(FIXTURES / "seed/dpdk1-policy.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    rendered = json.loads(done.stdout)
    assert done.returncode == 0 and NODE_NAME in rendered["nodeStates"], done.stdout + done.stderr
    spec: dict[str, object] = rendered["nodeStates"][NODE_NAME]
    return spec


def state_yaml(spec: dict[str, object]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "sriovnetwork.openshift.io/v1",
            "kind": "SriovNetworkNodeState",
            "metadata": {"name": NODE_NAME},
            "spec": spec,
        }
    )


@dataclass
class OpenStackScenario(Scenario):
    metadata_hits: list[str] = field(default_factory=list)  # paths the metadata server on 127.0.0.1 served


def run_scenario(run: OpenStackScenario, work: Path) -> None:
    discover = ["sriov-operator", "discover", "--host-root", "/"]
    apply = ["sriov-operator", "apply", "--host-root", "/", "--state", STATE_FILE]
    run.shell(
        "wait for the config drive",
        "for i in $(seq 100); do [ -b /dev/sr0 ] && exit 0; sleep 0.1; done; exit 1",
    )
    run.run("discover from the config drive", discover)
    run.run("mounts", ["cat", "/proc/mounts"])
    run.shell(
        "remove the config drive",
        "rm -f /etc/sriov-operator/openstack-ports.json && echo 1 > /sys/block/sr0/device/delete"
        " && ! [ -e /dev/sr0 ]",
    )
    run.metadata_hits.clear()
    discovered = run.run("discover from the metadata service", discover)
    if discovered.returncode != 0:
        return
    spec = node_state_spec(discovered.json(), work)
    run.write(STATE_FILE, state_yaml(spec))
    run.run("stock vfio modules", ["sh", f"{GUEST_TOOLS}/use-vfio.sh", "stock"])
    run.run("apply with stock vfio", apply)
    run.run("vfio modules with no-IOMMU", ["sh", f"{GUEST_TOOLS}/use-vfio.sh", "noiommu"])
    run.run("apply the DPDK spec", apply)
    run.run("no-IOMMU parameter", ["cat", "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"])
    run.run("DPDK port driver", ["readlink", f"/sys/bus/pci/devices/{PCI[DPDK_PORT]}/driver"])
    run.run("vfio ioctls", ["python3", f"{GUEST_TOOLS}/vfio_probe.py", PCI[DPDK_PORT]])
    run.run("discover with the port on vfio-pci", discover)
    run.run("apply again", apply)
    run.write(STATE_FILE, state_yaml({"interfaces": []}))
    run.run("apply an empty spec", apply)
    run.run(
        "DPDK port driver after the empty spec", ["readlink", f"/sys/bus/pci/devices/{PCI[DPDK_PORT]}/driver"]
    )
    run.run("links after the empty spec", ["ip", "-j", "link", "show"])


@pytest.fixture(scope="module")
def openstack(
    vm_bundle: Bundle, vm_accel: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenStackScenario]:
    work = tmp_path_factory.mktemp("openstack-vm")
    config_drive = work / "config-2.iso"
    documents = nova_documents(claimed_addresses={OTHER_PORT: NOVA_WRONG_ADDRESS})
    write_config_drive_image(
        {path: json.dumps(body).encode() for path, body in documents.items()}, config_drive
    )
    with metadata_service(documents, work / "metadata") as service:
        bridge = UnixToLoopbackBridge(work / "metadata.sock", service.port)
        spec = openstack_vm(config_drive, bridge.path)
        try:
            with booted(spec, vm_bundle, vm_accel, work / "run") as vm:
                scenario = OpenStackScenario(vm, metadata_hits=service.hits)
                run_scenario(scenario, work)
                scenario.report()
                yield scenario
        finally:
            bridge.close()


def _filters(result_json: dict[str, object]) -> dict[str, str]:
    interfaces = result_json["interfaces"]
    assert isinstance(interfaces, list)
    return {i["pciAddress"]: i.get("netFilter") for i in interfaces}


EXPECTED_FILTERS = {PCI[nic]: f"openstack/NetworkID:{network}" for nic, network in NETWORK_OF.items()}


def test_config_drive_found_by_label_and_read_without_mounting(openstack: OpenStackScenario) -> None:
    result = openstack["discover from the config drive"]
    assert result.returncode == 0, str(result)
    output = result.json()
    assert output["platform"] == "openstack"
    assert output["metadataSource"] == "configDrive"
    assert _filters(output) == EXPECTED_FILTERS  # Nova's wrong address for the third port is corrected by MAC
    assert NOVA_WRONG_ADDRESS not in _filters(output)
    assert "/dev/sr0" not in openstack["mounts"].stdout


def test_metadata_service_at_its_real_address_without_a_config_drive(openstack: OpenStackScenario) -> None:
    assert openstack["remove the config drive"].returncode == 0, str(openstack["remove the config drive"])
    result = openstack["discover from the metadata service"]
    assert result.returncode == 0, str(result)
    assert result.json()["metadataSource"] == "metadataService"
    assert _filters(result.json()) == EXPECTED_FILTERS
    hits = openstack.metadata_hits
    assert f"/{METADATA_DIR}/meta_data.json" in hits and f"/{METADATA_DIR}/network_data.json" in hits


def test_stock_vfio_fails_with_the_kernel_lacks_noiommu_error(openstack: OpenStackScenario) -> None:
    assert openstack["stock vfio modules"].returncode == 0, str(openstack["stock vfio modules"])
    result = openstack["apply with stock vfio"]
    assert result.returncode == 1, str(result)
    assert "lacks no-IOMMU support" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_dpdk_spec_loads_vfio_in_noiommu_mode_and_binds_the_port(openstack: OpenStackScenario) -> None:
    applied = openstack["apply the DPDK spec"]
    assert applied.returncode == 0, str(applied)
    assert openstack["no-IOMMU parameter"].stdout.strip() == "Y"
    assert openstack["DPDK port driver"].stdout.strip().endswith("/vfio-pci")


def test_noiommu_group_opens_with_the_vfio_ioctls(openstack: OpenStackScenario) -> None:
    probe = openstack["vfio ioctls"]
    assert probe.returncode == 0, str(probe)
    answer = probe.json()
    assert answer["groupNode"].startswith("/dev/vfio/noiommu-")
    assert answer["apiVersion"] == 0 and answer["extension"] == 1 and answer["viable"]
    assert answer["regions"] > 0 and answer["irqs"] > 0  # a real PCI device behind the fd


def test_port_on_vfio_pci_keeps_its_netfilter(openstack: OpenStackScenario) -> None:
    result = openstack["discover with the port on vfio-pci"]
    assert result.returncode == 0, str(result)
    ports = {i["pciAddress"]: i for i in result.json()["interfaces"]}
    assert ports[PCI[DPDK_PORT]]["driver"] == "vfio-pci"
    assert ports[PCI[DPDK_PORT]]["netFilter"] == EXPECTED_FILTERS[PCI[DPDK_PORT]]
    assert "mac" not in ports[PCI[DPDK_PORT]]  # no netdev under vfio-pci: the filter came from the checkpoint


def test_second_apply_writes_nothing(openstack: OpenStackScenario) -> None:
    result = openstack["apply again"]
    assert result.returncode == 0, str(result)
    assert result.json()["applied"] == []


def test_empty_spec_gives_the_port_back_to_virtio_with_its_netdev(openstack: OpenStackScenario) -> None:
    assert openstack["apply an empty spec"].returncode == 0, str(openstack["apply an empty spec"])
    assert openstack["DPDK port driver after the empty spec"].stdout.strip().endswith("/virtio-pci")
    macs = {link.get("address") for link in openstack["links after the empty spec"].json()}
    assert DPDK_PORT.mac in macs
