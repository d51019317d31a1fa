"""One definition of "virtual platform", used by the engine and the host layer alike."""

from __future__ import annotations

import pytest

from sriov_operator.api.platforms import is_virtual, platform_from_provider_id
from sriov_operator.engine.inputs import Node
from sriov_operator.host.platform import detect_platform
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile

CASES = [
    ("openstack:///3f1c9a52-6b0e-4d7a-9f11-2a8c4e5d7b90", "openstack"),
    ("OpenStack:///3f1c9a52", "openstack"),
    ("aws:///us-east-1a/i-0123456789abcdef0", "baremetal"),  # no AWS metadata is read: bare metal
    ("baremetalhost:///metal3/openstack-worker-0", "baremetal"),  # "openstack" in a name is not the provider
    ("gce://project/zone/instance", "baremetal"),
    ("openstack", "baremetal"),
    ("", "baremetal"),
]


@pytest.mark.parametrize(("provider_id", "platform"), CASES)
def test_the_platform_of_a_provider_id(provider_id: str, platform: str) -> None:
    assert platform_from_provider_id(provider_id) == platform
    assert is_virtual(platform_from_provider_id(provider_id)) is (platform == "openstack")


@pytest.mark.parametrize(("provider_id", "platform"), CASES)
def test_engine_and_host_agree(provider_id: str, platform: str, tmp_path: object) -> None:
    root = tmp_path / "intel"  # type: ignore[operator]
    create_host(load_profile("baremetal-intel"), root)
    assert Node("n", {}, provider_id).is_virtual is (platform == "openstack")
    if provider_id:
        assert detect_platform(HostRoot(root), provider_id=provider_id) == platform
