"""The models read and write upstream's JSON."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sriov_operator.api.base import ApiModel
from sriov_operator.api.models import (
    InterfaceExt,
    SriovNetworkNodePolicy,
    SriovNetworkNodePolicySpec,
    VfGroup,
)
from sriov_operator.api.supported_nics import (
    DEFAULT_SUPPORTED_NICS,
    SupportedNicError,
    parse_supported_nic,
    parse_supported_nics,
)


def _policy_spec(**overrides: object) -> SriovNetworkNodePolicySpec:
    spec = {"resourceName": "r1", "nodeSelector": {}, "numVfs": 2, "nicSelector": {"vendor": "8086"}}
    return SriovNetworkNodePolicySpec.model_validate({**spec, **overrides})


def test_highest_priority_zero_survives_serialization() -> None:
    assert _policy_spec(priority=0).to_k8s()["priority"] == 0


def test_required_zero_values_are_written() -> None:
    assert _policy_spec(numVfs=0).to_k8s()["numVfs"] == 0


def test_empty_optional_fields_are_omitted_like_go_omitempty() -> None:
    dumped = VfGroup(resource_name="r1", is_rdma=False).to_k8s()
    assert dumped == {"resourceName": "r1"}


class _Sample(ApiModel):
    text: str | None = None
    count: int | None = None
    ratio: float | None = None
    flag: bool = False
    items: list[str] | None = None
    tags: frozenset[str] = frozenset()
    kept: int = 99


def test_omitempty_is_gos_empty_and_only_for_fields_whose_default_is_empty() -> None:
    empty = _Sample(text="", count=0, ratio=0.0, flag=False, items=[], tags=frozenset(), kept=0)
    assert empty.to_k8s() == {"ratio": 0.0, "kept": 0}  # 0.0 is not Go's empty int; kept's default is 99
    full = _Sample(text="a", count=1, flag=True, items=["x"], tags=frozenset({"t"}), kept=99)
    assert full.model_dump(by_alias=True, exclude_none=True) == {
        "text": "a",
        "count": 1,
        "flag": True,
        "items": ["x"],
        "tags": frozenset({"t"}),
        "kept": 99,
    }


def test_discovered_interface_uses_upstream_field_names() -> None:
    raw = {
        "pciAddress": "0000:3b:00.0",
        "deviceID": "158b",
        "totalvfs": 64,
        "Vfs": [{"pciAddress": "0000:3b:02.0", "vfID": 0, "Vlan": 0, "deviceID": "154c"}],
    }
    interface = InterfaceExt.model_validate(raw)
    assert interface.vfs is not None and interface.vfs[0].vf_id == 0
    assert interface.to_k8s() == {
        "pciAddress": "0000:3b:00.0",
        "deviceID": "158b",
        "totalvfs": 64,
        "Vfs": [{"pciAddress": "0000:3b:02.0", "vfID": 0, "deviceID": "154c"}],
    }


def test_unknown_field_is_rejected_by_name() -> None:
    with pytest.raises(ValidationError) as raised:
        _policy_spec(numVf=3)
    assert raised.value.errors()[0]["loc"] == ("numVf",)


def test_out_of_range_priority_names_the_bound() -> None:
    with pytest.raises(ValidationError) as raised:
        _policy_spec(priority=100)
    error = raised.value.errors()[0]
    assert error["loc"] == ("priority",) and "99" in error["msg"]


def test_policy_round_trips_through_upstream_json() -> None:
    raw = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "resourceName": "r1",
            "nodeSelector": {"a": "b"},
            "priority": 5,
            "numVfs": 8,
            "nicSelector": {"pfNames": ["ens1f0#0-3"], "deviceID": "158b"},
            "deviceType": "vfio-pci",
            "eSwitchMode": "switchdev",
        },
    }
    assert SriovNetworkNodePolicy.model_validate(raw).to_k8s() == raw


def test_default_supported_nic_list_is_complete_and_well_formed() -> None:
    nics = parse_supported_nics(DEFAULT_SUPPORTED_NICS)
    assert len(nics) >= 45
    by_label = {n.label: n for n in nics}
    assert by_label["Intel_i40e_25G_SFP28"].vf_device_id == "154c"
    assert by_label["Nvidia_mlx5_ConnectX-6_Dx"].pf_device_id == "101d"
    assert by_label["Red_Hat_Virtio_1_0_network_device"].vf_device_id == "1041"


@pytest.mark.parametrize("value", ["8086 158b", "0x8086 158b 154c", "8086 158B 154c", ""])
def test_malformed_supported_nic_entry_names_key_value_and_format(value: str) -> None:
    with pytest.raises(SupportedNicError) as raised:
        parse_supported_nic("MyNic", value)
    assert "supported-nic-ids[MyNic]" in str(raised.value) and repr(value) in str(raised.value)
    assert "<vendor> <PF deviceID> <VF deviceID>" in str(raised.value)
