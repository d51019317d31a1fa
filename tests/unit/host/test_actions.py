"""Host actions by type: every kind runs in its documented place, has one executor, and changes the host.

The executors are exercised one kind at a time on the simulated kernel: each
changes the host the first time and finds nothing to do the second, so a kind
whose executor is missing or does nothing fails here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest

from sriov_operator.api.models import InterfaceExt, OVSConfigExt, VirtualFunction
from sriov_operator.host.actions import (
    ACTION_ORDER,
    DEFAULT_DRIVER,
    Action,
    AddKernelArgs,
    BindDriver,
    BindVfs,
    CreateOvsBridge,
    CreateVdpaDevice,
    DeleteVdpaDevice,
    ForgetDevice,
    LinkUp,
    LoadModule,
    Reboot,
    RememberDevice,
    RemoveKernelArgs,
    RemoveOvsBridge,
    RemoveUdevRules,
    RemoveVfs,
    ResetFirmware,
    RestoreEswitchMode,
    RestoreFlowSteeringMode,
    RestorePfMtu,
    SetEswitchMode,
    SetEswitchModeWithVfs,
    SetFirmwareConfig,
    SetFlowSteeringMode,
    SetHwTcOffload,
    SetModuleParameter,
    SetNumVfs,
    SetPfMtu,
    SetRdmaMode,
    SetVfAdminMac,
    SetVfGuid,
    SetVfMtu,
    UnbindVfs,
    UpdateOvsBridge,
    WriteUdevRules,
    in_run_order,
)
from sriov_operator.host.apply import apply_plan
from sriov_operator.host.bootconfig import bls_entries, read_cmdline
from sriov_operator.host.executors import EXECUTORS, HostAccess, executes
from sriov_operator.host.infiniband import read_vf_guid
from sriov_operator.host.mellanox import FirmwareConfig, parse_query, query_command
from sriov_operator.host.node import NodeHost
from sriov_operator.host.ovs import normalized
from sriov_operator.host.pci import read_pci_function
from sriov_operator.host.plan import Plan
from sriov_operator.host.state import DeviceRecord, read_kernel_modules, read_rdma_mode, read_udev_rules
from tests.unit.host.conftest import make_host, sim_node

INTEL_PF = "0000:3b:00.1"
MLX_PF = "0000:5e:00.0"
IB_PF, IB_VF = "0000:3b:00.0", "0000:3b:00.2"
IB_GUID = "02:00:00:00:00:00:00:10"
DPDK_PORT = "0000:00:04.0"
HOST_DOCS = Path(__file__).resolve().parents[3] / "docs" / "host.md"
NOIOMMU = "enable_unsafe_noiommu_mode=1"
REALLOC = "pci=realloc"
RULES = '# ours\nSUBSYSTEM=="net", KERNELS=="0000:3b:04.f", ENV{NM_UNMANAGED}="1"\n'


def _pf(node: NodeHost, pci: str = INTEL_PF) -> InterfaceExt:
    return next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == pci)


def _firmware(node: NodeHost) -> FirmwareConfig:
    return parse_query(node.access.run(query_command(MLX_PF)).stdout, MLX_PF)


def _first_vf(node: NodeHost) -> str:
    vfs = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == INTEL_PF).vfs
    assert vfs
    return vfs[0].pci_address


def _vf_mtu(node: NodeHost) -> int | None:
    vfs = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == INTEL_PF).vfs
    assert vfs
    return vfs[0].mtu


def _vf_mac_pinned(node: NodeHost) -> SetVfAdminMac:
    vfs = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == INTEL_PF).vfs
    assert vfs and vfs[0].mac
    return SetVfAdminMac(vfs[0].pci_address, INTEL_PF, 0, vfs[0].mac, reason="t")


def _admin_mac_holds(node: NodeHost) -> bool:
    vfs = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == INTEL_PF).vfs
    assert vfs
    return node.observe(checkpoint=False).vf_admin_macs.get(vfs[0].pci_address) == vfs[0].mac


def _ovs_bridge(mtu: int = 1500) -> OVSConfigExt:
    uplink = {"pciAddress": MLX_PF, "name": "ens2f0np0", "interface": {"mtuRequest": mtu}}
    return OVSConfigExt.model_validate({"name": "br-0000_5e_00.0", "uplinks": [uplink]})


def _ovs_bridge_is(node: NodeHost, wanted: OVSConfigExt | None) -> bool:
    state = node.access.ovs.read()
    found = state.bridge("br-0000_5e_00.0") if state else None
    if wanted is None:
        return found is None
    return found is not None and found.ours and normalized(found.config) == normalized(wanted)


def _driver(node: NodeHost, pci: str) -> str | None:
    return read_pci_function(node.host, pci).driver


def _mlx_vfs(node: NodeHost) -> list[str]:
    pf = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == MLX_PF)
    return [vf.pci_address for vf in pf.vfs or []]


def _steering(node: NodeHost) -> str | None:
    return node.observe(checkpoint=False).flow_steering.get(MLX_PF)


def _mlx_vf(node: NodeHost) -> VirtualFunction:
    pf = next(i for i in node.discover(checkpoint=False).interfaces if i.pci_address == MLX_PF)
    assert pf.vfs
    return pf.vfs[0]


def _offload_of(node: NodeHost, vf_id: int | None) -> bool | None:
    function = read_pci_function(node.host, MLX_PF)
    name = (
        function.netdev.name if vf_id is None and function.netdev else function.representors.get(vf_id or 0)
    )
    return node.observe(checkpoint=False).tc_offload.get(name or "")


MLX_SWITCHDEV: tuple[Action, ...] = (SetEswitchModeWithVfs(MLX_PF, "switchdev", reason="t"),)
VDPA_READY: tuple[Action, ...] = (*MLX_SWITCHDEV, LoadModule("vhost_vdpa", reason="t"))


Case = tuple[
    str,  # simulator profile
    tuple[Action, ...],  # what must hold first
    Callable[[NodeHost], Action],  # the action under test (may need what the setup created)
    Callable[[NodeHost], bool],  # holds afterwards, not before
]
CASES: dict[type[Action], Case] = {
    LoadModule: (
        "baremetal-intel",
        (),
        lambda node: LoadModule("vfio_pci", reason="t"),
        lambda node: read_kernel_modules(node.host).vfio_pci_loaded,
    ),
    SetModuleParameter: (
        "openstack-vm",
        (),
        lambda node: SetModuleParameter("vfio", NOIOMMU, reason="t"),
        lambda node: read_kernel_modules(node.host).noiommu_enabled,
    ),
    SetEswitchMode: (
        "baremetal-mellanox",
        (),
        lambda node: SetEswitchMode(MLX_PF, "switchdev", reason="t"),
        lambda node: node.access.eswitch.mode(MLX_PF) == "switchdev",
    ),
    WriteUdevRules: (
        "baremetal-intel",
        (),
        lambda node: WriteUdevRules(INTEL_PF, RULES, reason="t"),
        lambda node: read_udev_rules(node.host) == {INTEL_PF: RULES},
    ),
    RestoreEswitchMode: (
        "baremetal-mellanox",
        (SetNumVfs(MLX_PF, 0, reason="t"), SetEswitchMode(MLX_PF, "switchdev", reason="t")),
        lambda node: RestoreEswitchMode(MLX_PF, "legacy", reason="t"),
        lambda node: node.access.eswitch.mode(MLX_PF) == "legacy",
    ),
    RemoveVfs: (
        "baremetal-mellanox",  # 2 VFs on port 0
        (),
        lambda node: RemoveVfs(MLX_PF, reason="t"),
        lambda node: _mlx_vfs(node) == [],
    ),
    SetFlowSteeringMode: (
        "baremetal-mellanox",
        (),
        lambda node: SetFlowSteeringMode(MLX_PF, "smfs", reason="t"),
        lambda node: _steering(node) == "smfs",
    ),
    RestoreFlowSteeringMode: (
        "baremetal-mellanox",
        (SetFlowSteeringMode(MLX_PF, "smfs", reason="t"),),
        lambda node: RestoreFlowSteeringMode(MLX_PF, "dmfs", reason="t"),
        lambda node: _steering(node) == "dmfs",
    ),
    UnbindVfs: (
        "baremetal-mellanox",
        (),
        lambda node: UnbindVfs(MLX_PF, reason="t"),
        lambda node: all(_driver(node, vf) is None for vf in _mlx_vfs(node)),
    ),
    SetEswitchModeWithVfs: (
        "baremetal-mellanox",
        (UnbindVfs(MLX_PF, reason="t"),),
        lambda node: SetEswitchModeWithVfs(MLX_PF, "switchdev", reason="t"),
        lambda node: node.access.eswitch.mode(MLX_PF) == "switchdev",
    ),
    BindVfs: (
        "baremetal-mellanox",
        (UnbindVfs(MLX_PF, reason="t"),),
        lambda node: BindVfs(MLX_PF, reason="t"),
        lambda node: all(_driver(node, vf) == "mlx5_core" for vf in _mlx_vfs(node)),
    ),
    SetHwTcOffload: (
        "baremetal-mellanox",
        MLX_SWITCHDEV,
        lambda node: SetHwTcOffload(_mlx_vfs(node)[1], MLX_PF, 1, reason="t"),  # VF 1's representor
        lambda node: _offload_of(node, 1) is True and _offload_of(node, 0) is False,
    ),
    DeleteVdpaDevice: (
        "baremetal-mellanox",
        (*VDPA_READY, CreateVdpaDevice("0000:5e:00.2", "vhost", reason="t")),
        lambda node: DeleteVdpaDevice(_mlx_vfs(node)[0], reason="t"),
        lambda node: _mlx_vf(node).vdpa_type is None,
    ),
    CreateVdpaDevice: (
        "baremetal-mellanox",
        VDPA_READY,
        lambda node: CreateVdpaDevice(_mlx_vfs(node)[0], "vhost", reason="t"),
        lambda node: _mlx_vf(node).vdpa_type == "vhost",
    ),
    SetNumVfs: (
        "baremetal-intel",
        (),
        lambda node: SetNumVfs(INTEL_PF, 2, reason="t"),
        lambda node: getattr(_pf(node), "num_vfs", None) == 2,
    ),
    SetPfMtu: (
        "baremetal-intel",
        (),
        lambda node: SetPfMtu(INTEL_PF, 9000, reason="t"),
        lambda node: getattr(_pf(node), "mtu", None) == 9000,
    ),
    RestorePfMtu: (
        "baremetal-intel",
        (SetPfMtu(INTEL_PF, 9000, reason="t"),),
        lambda node: RestorePfMtu(INTEL_PF, 1500, reason="t"),  # lowered, which SetPfMtu never does
        lambda node: getattr(_pf(node), "mtu", None) == 1500,
    ),
    LinkUp: (
        "baremetal-intel",
        (),
        lambda node: LinkUp(INTEL_PF, reason="t"),
        lambda node: getattr(_pf(node), "link_admin_state", None) == "up",
    ),
    RememberDevice: (
        "baremetal-intel",
        (),
        lambda node: RememberDevice(INTEL_PF, DeviceRecord(pci_address=INTEL_PF, num_vfs=2), reason="t"),
        lambda node: INTEL_PF in node.observe(checkpoint=False).configured,
    ),
    SetVfAdminMac: (
        "baremetal-intel",
        (SetNumVfs(INTEL_PF, 2, reason="t"),),
        _vf_mac_pinned,
        _admin_mac_holds,
    ),
    SetVfGuid: (
        "baremetal-infiniband",
        (SetNumVfs(IB_PF, 2, reason="t"),),
        lambda node: SetVfGuid(IB_VF, IB_PF, 0, IB_GUID, reason="t"),
        lambda node: read_vf_guid(node.host, IB_VF) == IB_GUID,
    ),
    BindDriver: (
        "openstack-vm",
        (LoadModule("vfio", NOIOMMU, reason="t"), LoadModule("vfio_pci", reason="t")),
        lambda node: BindDriver(DPDK_PORT, "vfio-pci", reason="t"),
        lambda node: _driver(node, DPDK_PORT) == "vfio-pci",
    ),
    SetVfMtu: (
        "baremetal-intel",
        (SetNumVfs(INTEL_PF, 2, reason="t"), SetPfMtu(INTEL_PF, 9000, reason="t")),
        lambda node: SetVfMtu(_first_vf(node), 9000, reason="t"),
        lambda node: _vf_mtu(node) == 9000,
    ),
    CreateOvsBridge: (
        "baremetal-mellanox",
        (),
        lambda node: CreateOvsBridge(MLX_PF, _ovs_bridge(), reason="t"),
        lambda node: _ovs_bridge_is(node, _ovs_bridge()),
    ),
    UpdateOvsBridge: (
        "baremetal-mellanox",
        (CreateOvsBridge(MLX_PF, _ovs_bridge(), reason="t"),),
        lambda node: UpdateOvsBridge(MLX_PF, _ovs_bridge(9000), reason="t"),
        lambda node: _ovs_bridge_is(node, _ovs_bridge(9000)),
    ),
    RemoveOvsBridge: (
        "baremetal-mellanox",
        (CreateOvsBridge(MLX_PF, _ovs_bridge(), reason="t"),),
        lambda node: RemoveOvsBridge(MLX_PF, "br-0000_5e_00.0", reason="t"),
        lambda node: _ovs_bridge_is(node, None),
    ),
    RemoveUdevRules: (
        "baremetal-intel",
        (WriteUdevRules(INTEL_PF, RULES, reason="t"),),
        lambda node: RemoveUdevRules(INTEL_PF, reason="t"),
        lambda node: read_udev_rules(node.host) == {},
    ),
    ForgetDevice: (
        "baremetal-intel",
        (RememberDevice(INTEL_PF, DeviceRecord(pci_address=INTEL_PF), reason="t"),),
        lambda node: ForgetDevice(INTEL_PF, reason="t"),
        lambda node: INTEL_PF not in node.observe(checkpoint=False).configured,
    ),
    AddKernelArgs: (
        "baremetal-intel",
        (),
        lambda node: AddKernelArgs(args=(REALLOC,), where="BLS", reason="t"),
        lambda node: all(REALLOC in entry.read_text().split() for entry in bls_entries(node.host)),
    ),
    RemoveKernelArgs: (
        "baremetal-intel",
        (AddKernelArgs(args=(REALLOC,), where="BLS", reason="t"),),
        lambda node: RemoveKernelArgs(args=(REALLOC,), where="BLS", reason="t"),
        lambda node: all(REALLOC not in entry.read_text().split() for entry in bls_entries(node.host)),
    ),
    SetFirmwareConfig: (
        "baremetal-mellanox",
        (),
        lambda node: SetFirmwareConfig(MLX_PF, (("NUM_OF_VFS", "16"),), requires="reboot", reason="t"),
        lambda node: _firmware(node).next_boot("NUM_OF_VFS") == "16",
    ),
    ResetFirmware: (
        "baremetal-mellanox",
        (SetFirmwareConfig(MLX_PF, (("NUM_OF_VFS", "16"),), reason="t"),),
        lambda node: ResetFirmware(MLX_PF, (MLX_PF, "0000:5e:00.1"), reason="t"),
        lambda node: _firmware(node).current("NUM_OF_VFS") == "16" and _pf(node, MLX_PF).totalvfs == 16,
    ),
    SetRdmaMode: (
        "baremetal-mellanox",
        (),
        lambda node: SetRdmaMode("exclusive", reason="t"),
        lambda node: read_rdma_mode(node.host) == "exclusive",
    ),
    Reboot: (
        "baremetal-intel",
        (AddKernelArgs(args=(REALLOC,), where="BLS", reason="t"),),
        lambda node: Reboot(args=(REALLOC,), reason="t"),
        lambda node: REALLOC in read_cmdline(node.host),
    ),
}


def test_every_kind_has_a_place_in_the_run_order_an_executor_and_a_case_here() -> None:
    kinds = set(get_args(Action))
    assert len(ACTION_ORDER) == len(set(ACTION_ORDER)) == len(kinds)
    assert set(ACTION_ORDER) == kinds == set(EXECUTORS) == set(CASES)
    assert len({kind.kind for kind in ACTION_ORDER}) == len(ACTION_ORDER)  # names users see are distinct


@pytest.mark.parametrize("kind", ACTION_ORDER, ids=lambda kind: kind.kind)
def test_each_executor_changes_the_host_once(tmp_path: Path, kind: type[Action]) -> None:
    profile, setup, make, holds = CASES[kind]
    node = sim_node(make_host(tmp_path, profile))
    apply_plan(node.access, Plan(setup))
    action = make(node)
    assert type(action) is kind
    assert not holds(node)
    assert [o.result for o in apply_plan(node.access, Plan((action,)))] == ["done"]
    assert holds(node)
    assert [o.result for o in apply_plan(node.access, Plan((action,)))] == ["already"]


def test_an_executor_is_registered_once_per_kind() -> None:
    with pytest.raises(TypeError, match="SetNumVfs already has an executor"):

        @executes(SetNumVfs)
        def _again(access: HostAccess, action: SetNumVfs) -> bool:  # pragma: no cover - never registered
            return False

    assert EXECUTORS[SetNumVfs].__name__ == "_set_numvfs"


def _documented_order() -> list[tuple[str, str]]:
    """(action, requires) rows of docs/host.md's table "Actions and when they are needed"."""
    section = HOST_DOCS.read_text().split("## Actions and when they are needed", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \|[^|]*\|[^|]*\| ([^|]+) \|$", section, flags=re.MULTILINE)
    return [(name, requires.split()[0]) for name, requires in rows if name != "action"]


def _default_requirement(kind: type[Action]) -> object:
    return next(field.default for field in dataclasses.fields(kind) if field.name == "requires")


def test_actions_run_in_the_order_docs_host_md_lists_them_with_their_usual_requirement() -> None:
    assert [(kind.kind, _default_requirement(kind)) for kind in ACTION_ORDER] == _documented_order()


def test_the_planner_order_does_not_decide_the_run_order() -> None:
    planned = [
        ForgetDevice(INTEL_PF, reason=""),
        BindDriver(DPDK_PORT, DEFAULT_DRIVER, reason=""),
        SetNumVfs(INTEL_PF, 2, reason=""),
        SetEswitchMode(MLX_PF, "switchdev", reason=""),
        RememberDevice(DPDK_PORT, DeviceRecord(pci_address=DPDK_PORT), reason=""),
        LoadModule("vfio_pci", reason=""),
    ]
    assert [type(a) for a in in_run_order(planned)] == [
        LoadModule,
        RememberDevice,  # the record is written before anything changes the device
        SetEswitchMode,  # the eSwitch mode is set before VFs exist
        SetNumVfs,
        BindDriver,
        ForgetDevice,  # forgotten only once everything was given back
    ]


def test_actions_are_equal_when_they_change_the_same_thing_whatever_the_reason() -> None:
    assert SetNumVfs(INTEL_PF, 8, reason="a") == SetNumVfs(INTEL_PF, 8, reason="b")
    assert SetNumVfs(INTEL_PF, 8, reason="a") != SetNumVfs(INTEL_PF, 4, reason="a")
    assert SetNumVfs(INTEL_PF, 8, reason="a") != SetNumVfs(INTEL_PF, 8, requires="reboot", reason="a")
    assert SetPfMtu(INTEL_PF, 9000, reason="") != SetVfMtu(INTEL_PF, 9000, reason="")
