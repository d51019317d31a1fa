"""OpenStack metadata fallbacks on a simulated VM, against a real HTTP server on 127.0.0.1 (or none)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.cli import main
from sriov_operator.host.node import NodeHost
from sriov_operator.host.openstack.configdrive import BY_LABEL_LINK
from sriov_operator.host.openstack.metadata_service import MetadataServiceSettings
from sriov_operator.host.openstack.ports import MetadataSettings
from sriov_operator.host.plan import plan
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.host_io import simulated_io
from sriov_operator.host.simulator.kernel import SimulatedKernel
from tests.host.conftest import MetadataServer
from tests.support import FIXTURES

pytestmark = pytest.mark.host
HOT_PLUGGED = "0000:00:03.0"
INTEL_NET = "openstack/NetworkID:b7e1f3a2-4c5d-4e6f-8a9b-0c1d2e3f4a5b"


def nothing_listening() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def open_vm(root: Path, url: str) -> NodeHost:
    service = MetadataServiceSettings(base_url=url, timeout_seconds=1.0, backoff_seconds=())
    return NodeHost.open(root, io=simulated_io(root), metadata=MetadataSettings(service=service))


def test_hot_plug_while_metadata_is_unreachable_keeps_the_node_going(tmp_path: Path) -> None:
    profile = load_profile("openstack-vm")
    hot = next(d for d in profile.devices if d.address == HOT_PLUGGED)
    profile.devices.remove(hot)
    root = tmp_path / "vm"
    create_host(profile, root)
    node = open_vm(root, nothing_listening())
    node.observe()  # checkpoint from the config drive
    (root / "dev/sr0").write_bytes(b"")  # the drive is gone, the service does not answer
    kernel = SimulatedKernel.load(root)
    kernel.add_device(hot)
    kernel.save()

    found = {i.pci_address: i.net_filter for i in node.discover(checkpoint=True).interfaces}
    assert found[HOT_PLUGGED] is None and found["0000:00:06.0"] == INTEL_NET
    assert plan(SriovNetworkNodeStateSpec(), node.observe()).actions == ()
    checkpoint = json.loads((root / "etc/sriov-operator/openstack-ports.json").read_text())
    assert checkpoint["complete"] is False  # the next look tries the metadata again


def test_an_unreadable_config_drive_falls_through_to_the_service(
    tmp_path: Path, metadata_server: MetadataServer, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "vm"
    create_host(load_profile("openstack-vm"), root)
    drive = root / "dev/sr0"
    drive.write_bytes(drive.read_bytes()[: 20 * 2048])  # the label is there, the files are not
    for name in ("meta_data.json", "network_data.json"):
        metadata_server.serve(
            f"/openstack/2018-08-27/{name}", (200, (FIXTURES / "openstack" / name).read_bytes(), 0)
        )
    found = open_vm(root, metadata_server.url).discover(checkpoint=False)
    assert found.metadata_source == "metadataService"
    assert {i.pci_address: i.net_filter for i in found.interfaces}["0000:00:06.0"] == INTEL_NET
    assert "config drive unusable, trying the metadata service" in caplog.text
    assert HostRoot(root).path(BY_LABEL_LINK).exists()


@pytest.fixture
def read_only_vm(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "vm"
    create_host(load_profile("openstack-vm"), root)
    subprocess.run(["mount", "--bind", str(root), str(root)], check=True, timeout=30)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(root)], check=True, timeout=30)
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=False, timeout=30)


def test_discover_works_on_a_read_only_host_root(
    read_only_vm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(OSError, match="Read-only file system"):
        (read_only_vm / "probe").write_text("x")
    assert main(["discover", "--host-root", str(read_only_vm), "--simulate"]) == 0
    assert len(json.loads(capsys.readouterr().out)["interfaces"]) == 4
