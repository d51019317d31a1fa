"""The pure parts of the switchdev knobs: what ethtool and devlink print, devlink handles, vdpa's retry."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from sriov_operator.host.devlink import devlink_handle
from sriov_operator.host.offload import parse_devlink_param, parse_feature, read_devlink_param
from sriov_operator.host.programs import CommandResult
from sriov_operator.host.vdpa import VdpaError, create_vdpa

ETHTOOL_K = """Features for ens2f0np0:
rx-checksumming: on
hw-tc-offload: off
esp-hw-offload: off [fixed]
"""
PARAM = (
    '{"param":{"pci/0000:5e:00.0":[{"name":"flow_steering_mode","type":"driver-specific",'
    '"values":[{"cmode":"driverinit","value":"dmfs"},{"cmode":"runtime","value":"smfs"}]}]}}'
)


@pytest.mark.parametrize(
    ("text", "feature", "state"),
    [
        (ETHTOOL_K, "hw-tc-offload", False),
        (ETHTOOL_K.replace("hw-tc-offload: off", "hw-tc-offload: on"), "hw-tc-offload", True),
        (ETHTOOL_K, "esp-hw-offload", None),  # fixed: cannot be changed, so not offered
        ("Features for lo:\nrx-checksumming: on\n", "hw-tc-offload", None),
    ],
)
def test_ethtool_features(text: str, feature: str, state: bool | None) -> None:
    assert parse_feature(text, feature) is state


def test_the_runtime_value_of_a_devlink_param_is_the_one_read() -> None:
    assert parse_devlink_param(PARAM, "flow_steering_mode") == "smfs"
    assert parse_devlink_param(PARAM, "other") is None
    assert parse_devlink_param("not json", "flow_steering_mode") is None


def test_a_device_without_the_param_reads_as_none() -> None:
    def run(argv: Sequence[str]) -> CommandResult:
        return CommandResult(1, "", "kernel answers: Invalid argument")

    assert read_devlink_param(run, "pci/0000:3b:00.0", "flow_steering_mode") is None


def test_devlink_handles() -> None:
    assert devlink_handle("0000:3b:00.0") == ("pci", "0000:3b:00.0")
    assert devlink_handle("netdevsim/netdevsim1") == ("netdevsim", "netdevsim1")


def test_vdpa_is_created_again_without_max_vqp_where_the_device_does_not_take_it() -> None:
    seen: list[list[str]] = []

    def run(argv: Sequence[str]) -> CommandResult:
        seen.append(list(argv))
        if "max_vqp" in argv:
            return CommandResult(1, "", "kernel answers: Operation not supported")
        return CommandResult(0)

    create_vdpa(run, "vdpa:0000:5e:01.2", "pci/0000:5e:01.2")
    assert [argv[-2:] for argv in seen] == [["max_vqp", "32"], ["mgmtdev", "pci/0000:5e:01.2"]]


def test_a_vdpa_failure_quotes_the_program() -> None:
    def run(argv: Sequence[str]) -> CommandResult:
        return CommandResult(1, "", "kernel answers: No such device")

    expected = re.escape("vdpa dev add name vdpa:x mgmtdev pci/x failed (exit 1): kernel answers")
    with pytest.raises(VdpaError, match=expected):
        create_vdpa(run, "vdpa:x", "pci/x")
