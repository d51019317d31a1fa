"""Simulated hosts for the host-layer unit tests; these tests never use the network."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.host.node import NodeHost
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.host_io import simulated_io


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"host unit tests must not open connections (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def make_host(tmp_path: Path, profile: str) -> HostRoot:
    root = tmp_path / profile
    create_host(load_profile(profile), root)
    return HostRoot(root)


@pytest.fixture
def vm_host(tmp_path: Path) -> HostRoot:
    return make_host(tmp_path, "openstack-vm")


@pytest.fixture
def intel_host(tmp_path: Path) -> HostRoot:
    return make_host(tmp_path, "baremetal-intel")


@pytest.fixture
def mellanox_host(tmp_path: Path) -> HostRoot:
    return make_host(tmp_path, "baremetal-mellanox")


def sim_node(host: HostRoot, **settings: Any) -> NodeHost:
    """The simulated host opened as the CLI's ``--simulate`` opens it."""
    return NodeHost.open(host.root, io=simulated_io(host.root), **settings)
