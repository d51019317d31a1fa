"""Read-only discovery of this machine's real /sys, a config drive on a real loop device, netlink on veth."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriov_operator.host.devlink import NetlinkEswitch
from sriov_operator.host.discovery import discover
from sriov_operator.host.io import real_host_io
from sriov_operator.host.netlink import NetlinkLinkControl
from sriov_operator.host.netns import CURRENT_NETNS
from sriov_operator.host.openstack.configdrive import find_config_drive, read_config_drive
from sriov_operator.host.openstack.metadata_service import MetadataServiceSettings
from sriov_operator.host.openstack.ports import MetadataSettings
from sriov_operator.host.pci import is_pci_address
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.config_drive_image import write_config_drive_image
from tests.host.conftest import MetadataServer
from tests.support import FIXTURES

pytestmark = pytest.mark.host


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required for this real-host check (Debian package {package})")
    return path


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout


def test_discovery_of_the_real_sys_finds_the_virtio_nic(metadata_server: MetadataServer) -> None:
    links = json.loads(run(tool("ip", "iproute2"), "-d", "-j", "link", "show"))
    virtio = [link for link in links if link.get("parentbus") == "virtio"]
    assert virtio, "this machine is expected to have a virtio-net NIC"
    nic = virtio[0]
    # Describe that NIC as a Neutron port, so the OpenStack view (one function per port) reports it.
    base = "/openstack/2018-08-27/"
    metadata_server.serve_json(base + "meta_data.json", {"devices": []})
    metadata_server.serve_json(
        base + "network_data.json",
        {
            "links": [{"id": "tap0", "type": "ovs", "ethernet_mac_address": nic["address"]}],
            "networks": [{"id": "network0", "link": "tap0", "network_id": "0f0f0f0f-real-host"}],
        },
    )
    settings = MetadataSettings(service=MetadataServiceSettings(base_url=metadata_server.url))
    host = HostRoot(Path("/"))
    if find_config_drive(host) is not None:
        pytest.fail("this machine has a config-2 drive; the check needs the metadata server to answer")

    found = discover(host, "openstack", settings)  # read-only: the checkpoint is not saved
    by_name = {i.name: i for i in found.interfaces}
    assert nic["ifname"] in by_name, found.interfaces
    port = by_name[nic["ifname"]]
    assert (port.mac, port.mtu, port.driver, port.vendor) == (
        nic["address"],
        nic["mtu"],
        "virtio-pci",
        "1af4",
    )
    assert port.net_filter == "openstack/NetworkID:0f0f0f0f-real-host"
    assert found.metadata_source == "metadataService"
    assert not Path("/etc/sriov-operator").exists() or not any(Path("/etc/sriov-operator").iterdir())


@pytest.fixture
def loop_config_drive(tmp_path: Path) -> Iterator[Path]:
    losetup = tool("losetup", "util-linux")
    image = tmp_path / "config-2.iso"
    files = {
        f"openstack/latest/{name}": (FIXTURES / "openstack" / name).read_bytes()
        for name in ("meta_data.json", "network_data.json")
    }
    write_config_drive_image(files, image)
    device = run(losetup, "--find", "--show", "--read-only", str(image)).strip()
    try:
        yield Path(device)
    finally:
        subprocess.run([losetup, "--detach", device], check=False, timeout=30)


def test_config_drive_on_a_real_loop_device(loop_config_drive: Path) -> None:
    metadata = read_config_drive(loop_config_drive)  # latest/ only: the 2018-08-27 directory is absent
    assert [d.mac for d in metadata.meta_data.devices] == ["fa:16:3e:6b:21:0d", "fa:16:3e:c4:9a:77"]
    found = find_config_drive(HostRoot(Path("/")))  # no udev here: found by reading block device labels
    assert found is not None and found.resolve() == loop_config_drive.resolve()


@pytest.fixture
def veth_in_namespace() -> Iterator[str]:
    ip = tool("ip", "iproute2")
    namespace = f"sriov-host-test-{os.getpid()}"
    run(ip, "netns", "add", namespace)
    try:
        run(ip, "-n", namespace, "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b")
        yield namespace
    finally:
        subprocess.run([ip, "netns", "delete", namespace], check=False, timeout=30)


def test_netlink_sets_mtu_and_link_state_in_a_namespace(veth_in_namespace: str) -> None:
    links = NetlinkLinkControl(netns=veth_in_namespace)
    links.set_mtu("veth-a", 9000)
    links.set_up("veth-a")
    seen = json.loads(run("ip", "-n", veth_in_namespace, "-j", "link", "show", "veth-a"))[0]
    assert seen["mtu"] == 9000 and "UP" in seen["flags"]
    assert (links.status("veth-a").mtu, links.status("veth-a").up) == (9000, True)
    assert links.status("veth-b").up is False
    with pytest.raises(OSError, match="netlink refused"):
        links.set_mtu("veth-a", 1_000_000)
    with pytest.raises(OSError, match="no such network interface"):
        links.set_up("eth0")  # exists on the host, not in the test's namespace


def test_netlink_vf_admin_macs_on_a_link_without_vfs(veth_in_namespace: str) -> None:
    links = NetlinkLinkControl(netns=veth_in_namespace)
    assert links.vf_macs("veth-a") == {}  # asked with the VF info filter; a veth has no VFs
    with pytest.raises(OSError, match="veth-a: netlink refused"):
        links.set_vf_mac("veth-a", 0, "02:a0:00:00:00:01")  # the kernel refuses, never silently ignored


def test_netlink_finds_the_links_the_node_talks_through(veth_in_namespace: str) -> None:
    ip = tool("ip", "iproute2")
    run(ip, "-n", veth_in_namespace, "link", "set", "veth-a", "up")
    run(ip, "-n", veth_in_namespace, "link", "set", "veth-b", "up")
    run(ip, "-n", veth_in_namespace, "addr", "add", "127.18.0.1/24", "dev", "veth-a")
    run(ip, "-n", veth_in_namespace, "addr", "add", "127.19.0.1/24", "dev", "veth-b")
    run(ip, "-n", veth_in_namespace, "route", "add", "default", "via", "127.18.0.2", "dev", "veth-a")
    links = NetlinkLinkControl(netns=veth_in_namespace)
    assert links.node_links(["127.19.0.1"]) == {
        "veth-a": "it carries the default route",
        "veth-b": "it has the node's IP 127.19.0.1",
    }


def test_a_missing_namespace_is_an_error_and_is_not_created() -> None:
    name = f"sriov-host-test-missing-{os.getpid()}"
    with pytest.raises(OSError, match=f"network namespace {name}"):
        NetlinkLinkControl(netns=name).set_up("lo")
    assert not Path("/run/netns", name).exists()


def test_devlink_over_netlink_on_this_kernel() -> None:
    """This machine's PCI NIC has no eSwitch (and the kernel may have no devlink at all): mode unknown,
    and a switch is refused with the device named, not crashed on."""
    device = Path(os.path.realpath("/sys/class/net/eth0/device"))
    pci = next((part for part in reversed(device.parts) if is_pci_address(part)), None)
    assert pci is not None, f"eth0 of this machine is expected on PCI ({device})"
    eswitch = NetlinkEswitch()
    assert eswitch.mode(pci) is None
    with pytest.raises(OSError, match=f"devlink eswitch set pci/{pci} mode switchdev"):
        eswitch.set_mode(pci, "switchdev")


def test_every_link_of_a_multipath_default_route_is_the_nodes(veth_in_namespace: str) -> None:
    ip = tool("ip", "iproute2")
    for name, address in (("veth-a", "127.18.0.1/24"), ("veth-b", "127.19.0.1/24")):
        run(ip, "-n", veth_in_namespace, "link", "set", name, "up")
        run(ip, "-n", veth_in_namespace, "addr", "add", address, "dev", name)
    run(
        ip, "-n", veth_in_namespace, "route", "add", "default",
        "nexthop", "via", "127.18.0.2", "dev", "veth-a", "nexthop", "via", "127.19.0.2", "dev", "veth-b",
    )  # fmt: skip
    assert NetlinkLinkControl(netns=veth_in_namespace).node_links([]) == {
        "veth-a": "it carries the default route",
        "veth-b": "it carries the default route",
    }


def link_names(listing: str) -> set[str]:
    """``ip -o link`` -> the link names (``veth-a@veth-b`` is ``veth-a``)."""
    return {line.split(": ")[1].split("@")[0] for line in listing.splitlines()}


def test_a_network_program_runs_in_the_namespace_netlink_uses(veth_in_namespace: str) -> None:
    run = real_host_io(Path("/"), veth_in_namespace).run
    seen = run(["ip", "-o", "link", "show"])
    assert seen.returncode == 0, seen.stderr
    assert link_names(seen.stdout) == {"lo", "veth-a", "veth-b"}  # not this machine's eth0
    here = real_host_io(Path("/"), CURRENT_NETNS).run(["ip", "-o", "link", "show"])
    assert "eth0" in link_names(here.stdout) and "veth-a" not in link_names(here.stdout)


@pytest.fixture
def host_root_bind(tmp_path: Path) -> Iterator[Path]:
    """This machine's / bind-mounted read-only at another path: a host root whose programs are inside it."""
    root = tmp_path / "host"
    root.mkdir()
    run("mount", "--bind", "/", str(root))
    try:
        run("mount", "-o", "remount,ro,bind", str(root))
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=False, timeout=30)


def test_under_a_host_root_the_program_enters_the_namespace_then_the_root(
    veth_in_namespace: str, host_root_bind: Path
) -> None:
    run = real_host_io(host_root_bind, veth_in_namespace).run
    seen = run(["ip", "-d", "-o", "link", "show", "veth-a"])
    assert seen.returncode == 0, seen.stderr
    assert "veth" in seen.stdout.split()  # the link's kind, from inside the namespace
    assert link_names(run(["ip", "-o", "link", "show"]).stdout) == {"lo", "veth-a", "veth-b"}


def test_netlink_vf_guids_reach_the_kernel_which_takes_them_only_on_ib(veth_in_namespace: str) -> None:
    """Both GUID messages are well formed (the kernel parses them before it answers) and refused on a
    netdev that is not InfiniBand, as the simulator refuses them on an Ethernet PF."""
    links = NetlinkLinkControl(netns=veth_in_namespace)
    with pytest.raises(OSError) as refused:
        links.set_vf_guid("veth-a", 0, "02:00:00:00:00:00:00:10")
    assert refused.value.errno == errno.EOPNOTSUPP
