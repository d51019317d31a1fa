"""The sandbox's worker nodes: a Node object, a host, and the config daemon that configures it.

:class:`Worker` is what the sandbox needs from a worker; :class:`SimulatedWorker`
is one on a simulated host (``host/simulator``) with its daemon as a local
process. Other kinds (e.g. a real kernel in a QEMU VM) implement the same protocol.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from sriov_operator.api.constants import DEFAULT_CONFIG_DAEMON_NODE_SELECTOR
from sriov_operator.host.simulator.builder import create_host, load_profile, metadata_files, profile_file
from sriov_operator.kube.objects import Object
from sriov_operator.sandbox.children import Children
from sriov_operator.sandbox.hosts import (
    BAREMETAL_PROFILES,
    OPENSTACK_PROFILE,
    Platform,
    SimulatedHost,
    openstack_vm,
)
from sriov_operator.sandbox.metadata_service import MetadataService

SRIOV_CAPABLE_LABEL = "feature.node.kubernetes.io/network-sriov.capable"
MetadataSource = Literal["metadataService", "configDrive"]


@dataclass(frozen=True)
class DaemonContext:
    """What a worker's config daemon needs from the sandbox."""

    kubeconfig: Path
    namespace: str
    children: Children
    health_ports: Mapping[str, int] = field(default_factory=dict)  # by process name (daemon-<node>)


class Worker(Protocol):
    @property
    def name(self) -> str: ...

    def node(self) -> Object:
        """The Node object its kubelet would register (created by the sandbox before ``start``)."""

    def describe(self) -> str:
        """One line for the sandbox's start-up output: what the worker is, where its host lives."""

    def start(self, context: DaemonContext) -> None:
        """Start its config daemon (as ``context.children``, so the sandbox watches and stops it)."""


def node_object(name: str, platform: Platform, internal_ip: str, provider_id: str | None = None) -> Object:
    """A Node as a worker's kubelet registers it, with the labels NFD and the installer add."""
    labels = {
        **DEFAULT_CONFIG_DAEMON_NODE_SELECTOR,
        "kubernetes.io/hostname": name,
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        SRIOV_CAPABLE_LABEL: "true",
    }
    if platform == "openstack":
        labels["node.kubernetes.io/instance-type"] = "m1.xlarge"
        labels["topology.kubernetes.io/zone"] = "nova"
    node: Object = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
    if provider_id:
        node["spec"] = {"providerID": provider_id}
    node["status"] = {
        "addresses": [
            {"type": "InternalIP", "address": internal_ip},
            {"type": "Hostname", "address": name},
        ],
        "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
        "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "sandbox"}],
        "nodeInfo": {
            "architecture": "amd64",
            "operatingSystem": "linux",
            "osImage": "simulated host (sriov-operator sandbox)",
            "kubeletVersion": "v1.36.3",
            "containerRuntimeVersion": "none://sandbox",
            "kernelVersion": "",
            "kubeProxyVersion": "",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
    }
    return node


def management_address(host: SimulatedHost, index: int) -> str:
    """The Node's InternalIP: the address on the host's default-route link, or one of TEST-NET-1."""
    for device in host.profile.devices:
        if device.netdev is not None and device.netdev.default_route and device.netdev.addresses:
            return device.netdev.addresses[0]
    return f"192.0.2.{100 + index}"


def metadata_source_for(index: int) -> MetadataSource:
    """Half the VMs read Nova's metadata service, the others their config drive (both as in the article)."""
    return "metadataService" if index % 2 == 0 else "configDrive"


@dataclass
class SimulatedWorker:
    """A worker on a simulated host under ``root``; its daemon runs ``--simulate`` against it."""

    name: str
    platform: Platform
    host: SimulatedHost
    root: Path
    index: int = 0
    metadata_url: str | None = None  # OpenStack VMs without a config drive read this service

    def prepare(self) -> None:
        """Write the simulated host (and its config drive, when it has one)."""
        drive: dict[str, bytes] = {}
        if self.host.openstack is not None and self.metadata_url is None:
            drive = metadata_files(self.host.openstack.meta_data, self.host.openstack.network_data)
        create_host(self.host.profile, self.root, config_drive=drive)

    @property
    def provider_id(self) -> str | None:
        return self.host.openstack.provider_id if self.host.openstack else None

    def node(self) -> Object:
        return node_object(
            self.name, self.platform, management_address(self.host, self.index), self.provider_id
        )

    def describe(self) -> str:
        if self.host.openstack is None:
            where = "bare metal"
        elif self.metadata_url is None:
            where = f"VM {self.host.openstack.uuid}, config drive"
        else:
            where = f"VM {self.host.openstack.uuid}, metadata service {self.metadata_url}"
        return f"{self.name}: {self.host.profile_name} ({where}), host root {self.root}"

    def daemon_argv(self, context: DaemonContext) -> list[str]:
        argv = [
            sys.executable, "-m", "sriov_operator.cli", "daemon",
            "--node-name", self.name, "--namespace", context.namespace,
            "--kubeconfig", str(context.kubeconfig),
            "--health-port", str(context.health_ports.get(f"daemon-{self.name}", -1)),
            "--health-address", "127.0.0.1",
            "--host-root", str(self.root), "--simulate", "--platform", self.platform,
        ]  # fmt: skip
        if self.provider_id:
            argv += ["--provider-id", self.provider_id]
        if self.metadata_url:
            argv += ["--metadata-url", self.metadata_url]
        return argv

    def start(self, context: DaemonContext) -> None:
        context.children.spawn(f"daemon-{self.name}", self.daemon_argv(context))


def simulated_workers(
    platform: Platform, count: int, seed: str, hosts_dir: Path, metadata: MetadataService
) -> list[SimulatedWorker]:
    """``count`` workers named ``worker-<i>``; OpenStack ones alternate metadata service and config drive."""
    workers = []
    if platform == "openstack":
        profile = load_profile(OPENSTACK_PROFILE)
        meta_data = json.loads(profile_file(f"{OPENSTACK_PROFILE}/meta_data.json"))
        network_data = json.loads(profile_file(f"{OPENSTACK_PROFILE}/network_data.json"))
    for index in range(count):
        name = f"worker-{index}"
        if platform == "openstack":
            host = openstack_vm(
                index, name=name, profile=profile, meta_data=meta_data, network_data=network_data, seed=seed
            )
            assert host.openstack is not None
            url = None
            if metadata_source_for(index) == "metadataService":
                files = metadata_files(host.openstack.meta_data, host.openstack.network_data)
                url = metadata.serve(name, files)
            workers.append(SimulatedWorker(name, platform, host, hosts_dir / name, index, url))
        else:
            profile_name = BAREMETAL_PROFILES[index % len(BAREMETAL_PROFILES)]
            host = SimulatedHost(profile_name, load_profile(profile_name))
            workers.append(SimulatedWorker(name, platform, host, hosts_dir / name, index))
    return workers
