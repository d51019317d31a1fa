"""Which policies a failed configuration is about (``daemon/blame.py``)."""

from __future__ import annotations

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.daemon.blame import (
    annotation_value,
    blamed_message,
    failing_policies,
    unusable_annotation,
    vf_parents,
)

SPEC = SriovNetworkNodeStateSpec.model_validate(
    {
        "interfaces": [
            {
                "pciAddress": "0000:3b:00.0",
                "numVfs": 8,
                "mtu": 9000,
                "vfGroups": [
                    {"resourceName": "a", "vfRange": "0-3", "policyName": "jumbo"},
                    {"resourceName": "b", "vfRange": "4-7", "policyName": "dpdk"},
                ],
            },
            {
                "pciAddress": "0000:3b:00.1",
                "numVfs": 2,
                "vfGroups": [{"resourceName": "c", "vfRange": "0-1", "policyName": "other"}],
            },
        ]
    }
)
STATUS = [{"pciAddress": "0000:3b:00.1", "Vfs": [{"pciAddress": "0000:3b:0a.0", "vfID": 0}]}]


def test_the_policies_of_the_device_the_error_names() -> None:
    message = "setPfMtu 0000:3b:00.0 (ens1f0): 65535: Invalid argument"
    assert failing_policies(SPEC, message, {}) == ("dpdk", "jumbo")
    vf_error = "bindDriver 0000:3b:0a.0: vfio-pci: No such device"
    assert failing_policies(SPEC, vf_error, vf_parents(STATUS)) == ("other",)


def test_an_error_naming_no_device_blames_every_policy_of_the_spec() -> None:
    assert failing_policies(SPEC, "loadModule vfio_pci: not found", {}) == ("dpdk", "jumbo", "other")
    assert annotation_value(("dpdk", "jumbo")) == "dpdk,jumbo"


def test_unusable_policies_annotation_is_json_and_absent_when_none() -> None:
    value = unusable_annotation({"b": "load mlx5_ib", "a": "x"})
    assert value == '{"a":"x","b":"load mlx5_ib"}'
    assert unusable_annotation({}) is None


def test_a_failure_message_starts_with_the_policies_it_is_about() -> None:
    assert blamed_message(("jumbo",), "setPfMtu 0000:3b:00.0: …") == "policy jumbo: setPfMtu 0000:3b:00.0: …"
    assert blamed_message(("a", "b"), "x") == "policy a, b: x"
    assert blamed_message((), "x") == "x"
