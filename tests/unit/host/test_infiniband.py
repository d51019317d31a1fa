"""InfiniBand: VF GUIDs planned (pure), set and read back on the simulated kernel (no kinder than Linux).

The simulated host is ``baremetal-infiniband``: a ConnectX-6 VPI whose two ports are in
InfiniBand mode (IPoIB netdevs ``ibp59s0f0``/``ibp59s0f1``, mlx5_ib loaded).  The GUID
pool's own rules are in test_guid_pool.py.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.api.models import Interface, InterfaceExt, SriovNetworkNodeStateSpec
from sriov_operator.host.actions import SetVfGuid
from sriov_operator.host.apply import apply_plan, converge
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.guid_pool import DEFAULT_GUID_FILE, GuidSource, derived_guid, format_guid
from sriov_operator.host.infiniband import read_vf_guid
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import Plan, PlanError, plan
from sriov_operator.host.root import PCI_DRIVERS, PCI_DRIVERS_PROBE, HostRoot
from sriov_operator.host.simulator.kernel import SimulatedKernel
from tests.doc_runner import run_console
from tests.docs_examples import example
from tests.unit.host.conftest import make_host, sim_node
from tests.unit.host.test_plan_requirements import bare_metal, group, planned

PF, PF1 = "0000:3b:00.0", "0000:3b:00.1"
VF0, VF1 = "0000:3b:00.2", "0000:3b:00.3"  # sriov_offset 2, stride 1
PORT_GUID = 0xB8CEF60300A1B2C0
IPOIB = "00:00:10:49:fe:80:00:00:00:00:00:00"
UNSET = "00:00:00:00:00:00:00:00"
GUID_FILE = [
    {"pciAddress": PF, "guids": ["02:00:00:00:00:00:00:10", "02:00:00:00:00:00:00:11"]},
    {
        "pfGuid": "b8:ce:f6:03:00:a1:b2:c1",
        "guidsRange": {"start": "02:00:00:00:00:01:00:00", "end": "02:00:00:00:00:01:00:07"},
    },
]


@pytest.fixture
def ib_host(tmp_path: Path) -> HostRoot:
    return make_host(tmp_path, "baremetal-infiniband")


def ib_spec(
    count: int = 2, pci: str = PF, device_type: str = "netdevice", **extra: Any
) -> SriovNetworkNodeStateSpec:
    entry = {"pciAddress": pci, "numVfs": count, "linkType": "IB", **extra}
    entry["vfGroups"] = [group(device_type, f"0-{count - 1}", isRdma=True)] if count else []
    return SriovNetworkNodeStateSpec(interfaces=[Interface.model_validate(entry)])


def write_guid_file(host: HostRoot, entries: object) -> None:
    path = host.path(DEFAULT_GUID_FILE.lstrip("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries))


def vf_guids(node: NodeHost, pci: str = PF) -> dict[int, str | None]:
    pf = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == pci)
    return {vf.vf_id: vf.guid for vf in pf.vfs or []}


# ------------------------------------------------------------------------------------ pure: the plan
def ib_pf(**status: Any) -> InterfaceExt:
    body = {
        "pciAddress": PF,
        "name": "ibp59s0f0",
        "mac": f"{IPOIB}:b8:ce:f6:03:00:a1:b2:c0",
        "linkType": "IB",
        "totalvfs": 8,
        "numVfs": 2,
        "mtu": 2044,
        "linkAdminState": "up",
        "Vfs": [
            {"pciAddress": VF0, "vfID": 0, "driver": "mlx5_core", "guid": UNSET},
            {"pciAddress": VF1, "vfID": 1, "driver": "mlx5_core", "guid": UNSET},
        ],
        **status,
    }
    return InterfaceExt.model_validate(body)


def derived(vf: int) -> str:
    return format_guid(derived_guid(PORT_GUID, vf))


def with_vfs(**vf_status: Any) -> InterfaceExt:
    status = ib_pf()
    return status.model_copy(update={"vfs": [vf.model_copy(update=vf_status) for vf in status.vfs or []]})


@pytest.mark.parametrize(
    ("status", "source", "actions"),
    [
        pytest.param(
            ib_pf(),
            GuidSource(),
            [("setVfGuid", VF0, derived(0), "drain"), ("setVfGuid", VF1, derived(1), "drain")],
            id="unset-gets-derived",
        ),
        pytest.param(with_vfs(guid=None), GuidSource(), [], id="no-rdma-device-nothing-to-compare"),
        pytest.param(with_vfs(driver="vfio-pci"), GuidSource(), [], id="not-on-vfio"),
        pytest.param(ib_pf(numVfs=1, Vfs=[]), GuidSource(), [], id="vfs-change-first"),
        pytest.param(ib_pf(linkType="ETH"), GuidSource(), [], id="not-on-an-ethernet-port"),
        pytest.param(ib_pf(), None, [], id="source-unknown-as-in-diff"),
    ],
)
def test_vf_guid_plans(status: InterfaceExt, source: GuidSource | None, actions: list[Any]) -> None:
    spec = ib_spec()
    steps = planned(spec.interfaces or [], bare_metal(status, ib_guids=source))
    assert [step for step in steps if step[0] == "setVfGuid"] == actions


def test_a_vf_with_its_guid_already_is_left_alone() -> None:
    status = ib_pf()
    vfs = [vf.model_copy(update={"guid": derived(vf.vf_id)}) for vf in status.vfs or []]
    host = bare_metal(status.model_copy(update={"vfs": vfs}), ib_guids=GuidSource())
    assert planned(ib_spec().interfaces or [], host) == []


def test_an_exhausted_pool_refuses_the_plan_before_any_vf_exists() -> None:
    pool = GuidSource(DEFAULT_GUID_FILE, _parsed([{"pciAddress": PF, "guids": ["02:00:00:00:00:00:00:10"]}]))
    host = bare_metal(ib_pf(numVfs=0, Vfs=[]), ib_guids=pool)
    with pytest.raises(PlanError, match=f"GUID pool exhausted for PF {PF}: it holds 1 GUIDs"):
        plan(ib_spec(), host)


def _parsed(entries: object) -> Any:
    from sriov_operator.host.guid_pool import parse_guid_file

    return parse_guid_file(json.dumps(entries), DEFAULT_GUID_FILE)


@pytest.mark.parametrize(
    ("link_type", "spec_type", "warning"),
    [
        ("IB", "IB", None),
        ("IB", None, None),
        ("ETH", "IB", "linkType IB but the port is ETH; a port's link type is a firmware setting"),
        ("IB", "ETH", "linkType ETH but the port is IB"),
        (None, "IB", "linkType IB but the port has no network interface"),
    ],
)
def test_a_link_type_the_port_does_not_have_is_a_warning(
    link_type: str | None, spec_type: str | None, warning: str | None
) -> None:
    host = bare_metal(ib_pf(linkType=link_type, numVfs=0, Vfs=[]), ib_guids=GuidSource())
    spec = ib_spec(0, linkType=spec_type)
    about_link_type = [w for w in plan(spec, host).warnings if "linkType" in w]
    if warning is None:
        assert about_link_type == []
    else:
        assert len(about_link_type) == 1
        assert about_link_type[0].startswith(f"spec.interfaces[0] ({PF}): {warning}")


# ------------------------------------------------------------------------------- the simulated kernel
def test_discovery_reports_ipoib_ports_and_each_vfs_guid(ib_host: HostRoot) -> None:
    node = sim_node(ib_host)
    converge(node.access, ib_spec(), node.observe)
    pf = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == PF)
    assert (pf.name, pf.link_type, pf.mtu) == ("ibp59s0f0", "IB", 2044)
    assert {vf.vf_id: vf.guid for vf in pf.vfs or []} == {0: derived(0), 1: derived(1)}
    # the IPoIB address of each VF ends in its port GUID, set with the node GUID
    assert [vf.mac for vf in pf.vfs or []] == [f"{IPOIB}:{derived(0)}", f"{IPOIB}:{derived(1)}"]


def test_guids_come_from_the_guid_file_and_stay_after_a_reboot(ib_host: HostRoot) -> None:
    write_guid_file(ib_host, GUID_FILE)
    node = sim_node(ib_host)
    spec = SriovNetworkNodeStateSpec(
        interfaces=[*(ib_spec().interfaces or []), *(ib_spec(3, PF1).interfaces or [])]
    )
    converge(node.access, spec, node.observe)
    assert vf_guids(node) == {0: "02:00:00:00:00:00:00:10", 1: "02:00:00:00:00:00:00:11"}
    assert vf_guids(node, PF1) == {n: f"02:00:00:00:00:01:00:0{n}" for n in range(3)}
    with SimulatedKernel.transaction(ib_host.root) as kernel:
        kernel.reboot()
    assert vf_guids(node) == {}  # a reboot takes the VFs, and the GUIDs their PF kept for them
    converge(node.access, spec, node.observe)
    assert vf_guids(node) == {0: "02:00:00:00:00:00:00:10", 1: "02:00:00:00:00:00:00:11"}
    assert plan(spec, node.observe()).actions == ()


def test_a_custom_guid_file_path_is_read_under_the_host_root(ib_host: HostRoot) -> None:
    custom = ib_host.path("srv/guids.json")
    custom.parent.mkdir(parents=True)
    custom.write_text(json.dumps(GUID_FILE))
    node = sim_node(ib_host, ib_guid_file="/srv/guids.json")
    converge(node.access, ib_spec(), node.observe)
    assert vf_guids(node) == {0: "02:00:00:00:00:00:00:10", 1: "02:00:00:00:00:00:00:11"}


def test_a_malformed_guid_file_fails_the_plan_in_one_line_and_nothing_is_applied(ib_host: HostRoot) -> None:
    write_guid_file(ib_host, [{"pciAddress": PF, "guids": ["02:00:00:00:00:00:00:10", "nope"]}])
    node = sim_node(ib_host)
    with pytest.raises(PlanError) as refused:
        plan(ib_spec(), node.observe())
    assert str(refused.value) == (
        f"{DEFAULT_GUID_FILE}[0].guids[1]: 'nope' is not a GUID; "
        "accepted: 8 hex octets joined by ':' (or '-'), e.g. 02:00:00:00:00:00:00:01"
    )
    ethernet_only = SriovNetworkNodeStateSpec()  # a spec without InfiniBand VFs does not care
    assert plan(ethernet_only, node.observe()).actions == ()


def test_changing_the_guid_file_moves_the_vfs_to_their_new_guids(ib_host: HostRoot) -> None:
    node = sim_node(ib_host)
    converge(node.access, ib_spec(), node.observe)
    assert vf_guids(node) == {0: derived(0), 1: derived(1)}
    write_guid_file(ib_host, GUID_FILE)
    steps = plan(ib_spec(), node.observe())
    assert [(a.kind, a.target, a.requires) for a in steps.actions] == [
        ("setVfGuid", VF0, "drain"),
        ("setVfGuid", VF1, "drain"),
    ]
    assert f"{derived(0)} -> 02:00:00:00:00:00:00:10 ({DEFAULT_GUID_FILE})" in steps.actions[0].reason
    converge(node.access, ib_spec(), node.observe)
    assert vf_guids(node) == {0: "02:00:00:00:00:00:00:10", 1: "02:00:00:00:00:00:00:11"}


def test_a_vf_sees_its_guid_only_once_its_driver_probes_it_again(ib_host: HostRoot) -> None:
    node = sim_node(ib_host)
    apply_plan(node.access, plan(ib_spec(), node.observe()))
    assert read_vf_guid(ib_host, VF0) == UNSET
    node.access.links.set_vf_guid("ibp59s0f0", 0, "02:00:00:00:00:00:00:10")
    assert read_vf_guid(ib_host, VF0) == UNSET  # the PF holds it; the VF's driver has not read it yet
    node.access.writer.write_attribute(ib_host.path(PCI_DRIVERS, "mlx5_core", "unbind"), VF0)
    node.access.writer.write_attribute(ib_host.path(PCI_DRIVERS_PROBE), VF0)
    assert read_vf_guid(ib_host, VF0) == "02:00:00:00:00:00:00:10"


@pytest.mark.parametrize(
    ("profile", "pf", "vf", "code"),
    [
        (
            "baremetal-mellanox",
            "ens2f0np0",
            0,
            errno.EOPNOTSUPP,
        ),  # an Ethernet PF: rtnetlink refuses VF GUIDs
        ("baremetal-infiniband", "ibp59s0f0", 2, errno.EINVAL),  # no VF 2 (2 VFs)
        ("baremetal-infiniband", "ibp59s0f9", 0, errno.ENODEV),
    ],
)
def test_the_simulated_kernel_refuses_a_vf_guid_as_linux_does(
    tmp_path: Path, profile: str, pf: str, vf: int, code: int
) -> None:
    host = make_host(tmp_path, profile)
    node = sim_node(host)
    if profile == "baremetal-infiniband":
        apply_plan(node.access, plan(ib_spec(), node.observe()))
    with pytest.raises(OSError) as refused:
        node.access.links.set_vf_guid(pf, vf, "02:00:00:00:00:00:00:10")
    assert refused.value.errno == code


def test_an_ipoib_netdev_exists_only_with_its_rdma_device(tmp_path: Path) -> None:
    """Without mlx5_ib an InfiniBand port has no netdev (so nothing to set GUIDs through), as on Linux."""
    host = make_host(tmp_path, "baremetal-infiniband")
    with SimulatedKernel.transaction(host.root) as kernel:
        kernel.state.boot_modules = [m for m in kernel.state.boot_modules if m != "mlx5_ib"]
        kernel.reboot()
    node = sim_node(host)
    pf = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == PF)
    assert (pf.name, pf.link_type) == (None, None)
    assert any("no network interface" in w for w in plan(ib_spec(0), node.observe()).warnings)
    node.access.run(["modprobe", "mlx5_ib"])
    pf = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == PF)
    assert (pf.name, pf.link_type) == ("ibp59s0f0", "IB")


def test_set_vf_guid_fails_loudly_when_the_vf_does_not_take_it(
    ib_host: HostRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = sim_node(ib_host)
    apply_plan(node.access, plan(ib_spec(), node.observe()))
    monkeypatch.setattr(
        type(node.access.links), "set_vf_guid", lambda self, pf, vf, guid: None
    )  # a driver ignoring it
    with pytest.raises(
        ApplyError, match=f"{VF0}: GUID 02:00:00:00:00:00:00:10 set on ibp59s0f0 vf 0, but .* reports {UNSET}"
    ):
        apply_plan(node.access, Plan((SetVfGuid(VF0, PF, 0, "02:00:00:00:00:00:00:10", reason="t"),)))


def test_the_documented_guid_file_session_runs(tmp_path: Path) -> None:
    steps = run_console(example("host-infiniband-guids"), tmp_path)
    assert [step.status for step in steps if step.command.startswith("sriov-operator")] == [0, 0, 0, 2]


def test_a_vfio_vf_gets_its_guid_before_it_leaves_its_kernel_driver(ib_host: HostRoot) -> None:
    node = sim_node(ib_host)
    spec = ib_spec(2, device_type="vfio-pci")
    outcomes = converge(node.access, spec, node.observe)
    kinds = [o.action.kind for o in outcomes if o.action.target == VF0]
    assert kinds == ["setVfGuid", "bindDriver"]  # the GUID first, while mlx5_core can still show it
    devices = SimulatedKernel.load(ib_host.root).state.devices
    assert (devices[VF0].admin_node_guid, devices[VF0].admin_port_guid) == (derived(0), derived(0))
    assert vf_guids(node) == {0: None, 1: None}  # on vfio-pci: no RDMA device to read one from
    assert plan(spec, node.observe()).actions == ()
