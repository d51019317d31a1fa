"""The sandbox's device-plugin stand-in counts what the selectors match and publishes it on the Node."""

from __future__ import annotations

import json
from typing import Any

from sriov_operator.sandbox.device_plugin import advertised_resources, capacity_patch, handed_over_resources
from tests.unit.sandbox.objects import configmap, node, vm_interfaces


def _resource(name: str, **selectors: Any) -> dict[str, Any]:
    return {"resourceName": name, "resourcePrefix": "openshift.io", "selectors": selectors}


def _config(*resources: dict[str, Any]) -> str:
    return json.dumps({"resourceList": list(resources)})


def _pf(name: str, pci: str, vendor: str, count: int) -> dict[str, Any]:
    vfs = [
        {"pciAddress": f"{pci[:-3]}{2 + i // 8:02x}.{i % 8}", "vendor": vendor, "deviceID": "154c", "vfID": i}
        for i in range(count)
    ]
    return {"pciAddress": pci, "name": name, "vendor": vendor, "Vfs": vfs}


BAREMETAL = [_pf("ens1f0", "0000:3b:00.0", "8086", 8), _pf("ens1f1", "0000:3b:00.1", "8086", 4)]


def test_vm_ports_count_by_pci_address() -> None:
    config = _config(
        _resource("dpdk1", pciAddresses=["0000:00:04.0"]),
        _resource("both", pciAddresses=["0000:00:04.0", "0000:00:07.0"], isRdma=True),
        _resource("gone", pciAddresses=["0000:00:09.0"]),
    )
    assert advertised_resources(config, vm_interfaces()) == {
        "openshift.io/dpdk1": 1,
        "openshift.io/both": 2,
        "openshift.io/gone": 0,
    }


def test_vfs_count_by_pf_name_range_root_device_and_vendor() -> None:
    config = _config(
        _resource("low", pfNames=["ens1f0#0-3"]),
        _resource("high", pfNames=["ens1f0#4-7", "ens1f1"]),
        _resource("byroot", rootDevices=["0000:3b:00.1"]),
        _resource("intel", vendors=["8086"], devices=["154c"]),
        _resource("mellanox", vendors=["15b3"]),
    )
    assert advertised_resources(config, BAREMETAL) == {
        "openshift.io/low": 4,
        "openshift.io/high": 8,
        "openshift.io/byroot": 4,
        "openshift.io/intel": 12,
        "openshift.io/mellanox": 0,
    }


def test_nothing_is_advertised_before_the_daemon_handed_the_config_over() -> None:
    assert handed_over_resources(None, vm_state()) is None
    assert handed_over_resources(configmap("w", handed_over=False), vm_state()) is None
    assert handed_over_resources(configmap("w"), vm_state()) == {
        "openshift.io/dpdk1": 1,
        "openshift.io/hwoffload1": 1,
    }


def test_the_node_patch_adds_changes_and_removes_only_prefixed_resources() -> None:
    current = node("w", {"openshift.io/old": "2", "openshift.io/dpdk1": "1"})
    patch = capacity_patch(current, {"openshift.io/dpdk1": 1, "openshift.io/new": 3}, "openshift.io")
    wanted = {"openshift.io/old": None, "openshift.io/dpdk1": "1", "openshift.io/new": "3"}
    assert patch == {"status": {"capacity": wanted, "allocatable": wanted}}
    published = node("w", {"openshift.io/dpdk1": "1"})
    assert capacity_patch(published, {"openshift.io/dpdk1": 1}, "openshift.io") is None


def vm_state(unusable: dict[str, str] | None = None) -> dict[str, Any]:
    groups = [
        {"resourceName": "dpdk1", "policyName": "dpdk1", "vfRange": "0-0"},
        {"resourceName": "hwoffload1", "policyName": "hwoffload1", "vfRange": "0-0", "isRdma": True},
    ]
    annotations = {"sriovnetwork.openshift.io/unusable-policies": json.dumps(unusable)} if unusable else {}
    return {
        "metadata": {"name": "w", "annotations": annotations},
        "spec": {
            "interfaces": [{"pciAddress": f"0000:00:0{i}.0", "vfGroups": [g]} for i, g in enumerate(groups)]
        },
        "status": {"interfaces": vm_interfaces()},
    }


def test_a_resource_the_daemon_reports_unusable_has_no_device() -> None:
    """hwoffload1=1 was advertised while the daemon's plan warnings said to load mlx5_ib."""
    state = vm_state({"hwoffload1": "0000:00:07.0 (ens7): ... load mlx5_ib"})
    assert handed_over_resources(configmap("w"), state) == {
        "openshift.io/dpdk1": 1,
        "openshift.io/hwoffload1": 0,
    }
