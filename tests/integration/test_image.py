"""The operator's image, built from the Containerfile with podman, run the way the cluster runs it.

On a control plane of this module's own (a real kube-apiserver + etcd):

- the operator runs from the image with the chart's Deployment (its env, user
  and securityContext: non-root, read-only root, no capabilities) as the chart's
  ServiceAccount; it renders the webhook Deployment and the config-daemon
  DaemonSet, and those run from the image too, each as its pod spec says;
- the API server sends an admission request to the webhook in its container;
- the config daemon, privileged, has a simulated OpenStack VM mounted where the
  DaemonSet mounts the host, and puts the seed's DPDK port on vfio-pci.

Differences from a kubelet (tests/image/kubelet.py): every container uses the
host's network (there is no pod network), so ports come from the environment;
the daemon gets ``--simulate``. If podman, the base image or the build fail,
the tests fail with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from sriov_operator.api.constants import (
    CONFIG_DAEMON_NAME,
    WEBHOOK_SERVICE_NAME,
    WEBHOOK_SERVING_SECRET,
)
from sriov_operator.api.crds import all_crds
from sriov_operator.api.multus import NETWORK_ATTACHMENT_DEFINITION_CRD
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.install.objects import (
    OPERATOR_NAME,
    default_operator_config,
    namespace_object,
    operator_deployment,
    rbac,
)
from sriov_operator.install.values import default_values
from sriov_operator.kube.crds import install_crds
from sriov_operator.kube.errors import KubeApiError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    DAEMON_SETS,
    DEPLOYMENTS,
    SECRETS,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.manifests import load_paths
from sriov_operator.sandbox.cluster import FIELD_MANAGER, RBAC_RESOURCES, apply_all
from tests.image.build import IMAGE, Built, ensure_image
from tests.image.containers import RunningContainer, running_container, write_service_account
from tests.image.kubelet import PodPlacement
from tests.image.podman import ImageToolingError, Podman, ulimit_args
from tests.integration.conftest import own_control_plane
from tests.integration.daemon_harness import create_node, driver_of, eventually, synced
from tests.kube_client import api_client, kube_objects
from tests.support import FIXTURES

pytestmark = [pytest.mark.integration, pytest.mark.image]

IMAGE_USER = 65532  # the Containerfile's USER
DPDK_PORT = "0000:00:04.0"  # the openstack-vm profile's port on the seed's DPDK network
SRIOV_CAPABLE = {"feature.node.kubernetes.io/network-sriov.capable": "true"}
STARTUP_SECONDS = 120.0  # a cold Python start on a loaded 2-core machine, under vfs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Podman, Built]:
    log = tmp_path_factory.mktemp("image") / "build.log"
    try:
        return ensure_image(log)
    except ImageToolingError as error:
        pytest.fail(f"the operator's image could not be built:\n{error}", pytrace=False)


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    yield from own_control_plane()


@pytest_asyncio.fixture(scope="module")
async def objects(plane: ControlPlane) -> AsyncIterator[KubeObjects]:
    async with api_client(plane.kubeconfig) as api:
        objects = kube_objects(api)
        await install_crds(objects, [*all_crds(), NETWORK_ATTACHMENT_DEFINITION_CRD])
        yield objects


@dataclass
class Cluster:
    """The operator and the webhook from the image, on the module's control plane."""

    plane: ControlPlane
    objects: KubeObjects
    podman: Podman
    namespace: str
    directory: Path
    containers: list[RunningContainer]

    def check_running(self) -> None:
        for container in self.containers:
            container.check_running()

    async def service_account(self, account: str) -> Path:
        """A bound token of ``account``, as the kubelet projects it into the account's pods."""
        async with api_client(self.plane.kubeconfig) as api:
            request = {"spec": {"audiences": [], "expirationSeconds": 3600}}
            answer = await client.CoreV1Api(api).create_namespaced_service_account_token(
                account, self.namespace, request
            )
        return write_service_account(
            self.directory / f"sa-{account}", answer.status.token, self.plane.pki.ca.cert, self.namespace
        )

    def placement(self, pod: str, service_account: Path, **more: Any) -> PodPlacement:
        port = int(self.plane.api_url.rsplit(":", 1)[1])
        return PodPlacement(
            pod_name=pod,
            namespace=self.namespace,
            node_name=more.pop("node_name", "control-plane-0"),
            image_user=IMAGE_USER,
            service_account=service_account,
            api_port=port,
            **more,
        )

    async def wait(self, what: str, check: Any, timeout: float = STARTUP_SECONDS) -> Any:
        """``eventually``, failing at once with the containers' output when one of them exits."""

        async def checked() -> Any:
            self.check_running()
            return await check()

        try:
            return await eventually(checked, what, timeout)
        except AssertionError as error:
            logs = "\n".join(f"--- {c.name}:\n{c.output()[-2000:]}" for c in self.containers)
            raise AssertionError(f"{error}\n{logs}") from None


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _write_serving_files(secret: dict[str, Any], directory: Path) -> None:
    """The serving Secret as the kubelet mounts it: one file per key, readable by the pod's user."""
    directory.mkdir(exist_ok=True)
    directory.chmod(0o755)
    for name, value in secret["data"].items():
        (directory / name).write_bytes(base64.b64decode(value))
        (directory / name).chmod(0o644)


@pytest_asyncio.fixture(scope="module")
async def cluster(
    built: tuple[Podman, Built],
    plane: ControlPlane,
    objects: KubeObjects,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Cluster]:
    podman, _ = built
    namespace = f"sriov-image-{uuid.uuid4().hex[:6]}"
    directory = tmp_path_factory.mktemp("cluster")
    values = default_values(namespace)
    repository, tag = IMAGE.rsplit(":", 1)
    values.values["image"].update({"repository": repository, "tag": tag})
    await apply_all(objects, [namespace_object(namespace), *rbac(values)], RBAC_RESOURCES)
    await objects.apply(SRIOV_OPERATOR_CONFIGS, default_operator_config(values), FIELD_MANAGER)
    cluster = Cluster(plane, objects, podman, namespace, directory, [])
    with contextlib.ExitStack() as stack:
        deployment = operator_deployment(values)
        pod_spec = deployment["spec"]["template"]["spec"]
        container = pod_spec["containers"][0]
        assert container["image"] == IMAGE
        health, webhook_port = free_port(), free_port()
        placement = cluster.placement(
            f"{OPERATOR_NAME}-0",
            await cluster.service_account(pod_spec["serviceAccountName"]),
            env_overrides={
                "SRIOV_OPERATOR_HEALTH_PORT": str(health),
                # the webhook runs outside the pod network: the API server calls it on 127.0.0.1
                "SRIOV_OPERATOR_WEBHOOK_URL": f"https://127.0.0.1:{webhook_port}",
                "SRIOV_OPERATOR_WEBHOOK_CERT_IP": "127.0.0.1",
            },
        )
        operator = stack.enter_context(
            running_container(podman, pod_spec, container, placement, directory / "operator.log")
        )
        cluster.containers.append(operator)

        async def operator_ready() -> bool:
            return await asyncio.to_thread(_ready, health)

        await cluster.wait("the operator's /readyz (its startupProbe) from the image", operator_ready)

        async def rendered_webhook() -> dict[str, Any] | None:
            secret = await objects.get(SECRETS, WEBHOOK_SERVING_SECRET, namespace)
            deployment = await objects.get(DEPLOYMENTS, WEBHOOK_SERVICE_NAME, namespace)
            return deployment if secret is not None and deployment is not None else None

        webhook = await cluster.wait("the webhook Deployment and serving Secret", rendered_webhook)
        secret = await objects.get(SECRETS, WEBHOOK_SERVING_SECRET, namespace)
        assert secret is not None
        tls = directory / "webhook-tls"
        _write_serving_files(secret, tls)
        pod_spec = webhook["spec"]["template"]["spec"]
        container = pod_spec["containers"][0]
        assert container["image"] == IMAGE  # the operator passes its own image on
        placement = cluster.placement(
            f"{WEBHOOK_SERVICE_NAME}-0",
            await cluster.service_account(pod_spec["serviceAccountName"]),
            volumes={"tls": tls},
            env_overrides={
                "SRIOV_OPERATOR_PORT": str(webhook_port),
                "SRIOV_OPERATOR_ADDRESS": "127.0.0.1",
                "SRIOV_OPERATOR_HEALTH_PORT": str(free_port()),
            },
        )
        cluster.containers.append(
            stack.enter_context(
                running_container(podman, pod_spec, container, placement, directory / "webhook.log")
            )
        )

        async def serving() -> bool:
            return await asyncio.to_thread(_listening, webhook_port)

        await cluster.wait("the webhook from the image on its port", serving)
        await cluster.wait("the API server calling the webhook", partial(_webhook_denies, cluster))
        yield cluster


def _rdma_dpdk_policy(name: str, namespace: str) -> dict[str, Any]:
    """A policy the CRD's schema allows and only the webhook refuses (isRdma with vfio-pci)."""
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "resourceName": name.replace("-", ""),
            "nodeSelector": {"kubernetes.io/hostname": "nowhere"},
            "numVfs": 1,
            "nicSelector": {"pfNames": ["ens1f0"]},
            "deviceType": "vfio-pci",
            "isRdma": True,
        },
    }


async def _webhook_denies(cluster: Cluster) -> bool | None:
    """The operator registers the webhook once it answers, and the API server then learns of the
    registration: until both have happened, a policy only the webhook refuses is admitted (removed here)."""
    probe = _rdma_dpdk_policy("probe-registration", cluster.namespace)
    try:
        await cluster.objects.create(SRIOV_NETWORK_NODE_POLICIES, probe, cluster.namespace)
    except KubeApiError as error:
        return True if "denied the request" in str(error) else None
    await cluster.objects.delete(SRIOV_NETWORK_NODE_POLICIES, "probe-registration", cluster.namespace)
    return None


def _inspect_user(podman: Podman, name: str) -> str:
    return podman.run("exec", name, "id", "-u").strip()


async def test_operator_and_webhook_run_from_the_image_as_the_chart_says(cluster: Cluster) -> None:
    operator, webhook = cluster.containers
    for container, user in ((operator, IMAGE_USER), (webhook, 65534)):
        assert _inspect_user(cluster.podman, container.name) == str(user)
        # read-only root, no tmpfs on /tmp: nothing in the image can be written
        probe = cluster.podman.run(
            "exec", container.name, "python3", "-c",
            "import os\nfor d in ('/', '/tmp', '/opt/sriov-operator'):\n"
            " try:\n  open(os.path.join(d, 'probe'), 'w')\n  print(d, 'writable')\n"
            " except OSError as e:\n  print(d, e.strerror)",
        )  # fmt: skip
        assert "writable" not in probe, probe
        status = cluster.podman.run("exec", container.name, "grep", "^CapEff", "/proc/1/status")
        assert status.split()[-1] == "0000000000000000", status


async def test_the_api_server_reaches_the_webhook_in_its_container(cluster: Cluster) -> None:
    policy = _rdma_dpdk_policy("rdma-dpdk", cluster.namespace)
    with pytest.raises(KubeApiError) as denied:
        await cluster.objects.create(SRIOV_NETWORK_NODE_POLICIES, policy, cluster.namespace)
    message = str(denied.value)
    assert 'admission webhook "operator-webhook.sriovnetwork.openshift.io" denied the request' in message
    assert "spec.isRdma: true is not allowed with deviceType 'vfio-pci'" in message, message
    assert await cluster.objects.get(SRIOV_NETWORK_NODE_POLICIES, "rdma-dpdk", cluster.namespace) is None


async def test_config_daemon_from_the_image_puts_the_seed_dpdk_port_on_vfio(
    cluster: Cluster, tmp_path: Path
) -> None:
    objects, namespace = cluster.objects, cluster.namespace
    node = f"worker-{uuid.uuid4().hex[:6]}"
    root = tmp_path / "host"
    create_host(load_profile("openstack-vm"), root)  # its config drive names the seed's networks
    await create_node(objects, node, SRIOV_CAPABLE)

    async def daemon_set() -> dict[str, Any] | None:
        return await objects.get(DAEMON_SETS, CONFIG_DAEMON_NAME, namespace)

    rendered = await cluster.wait("the config-daemon DaemonSet the operator renders", daemon_set)
    pod_spec = rendered["spec"]["template"]["spec"]
    container = dict(pod_spec["containers"][0])
    assert container["image"] == IMAGE
    assert container["securityContext"] == {"privileged": True, "runAsUser": 0}
    # the one change to the DaemonSet's container: the host at /host is a simulator tree
    container["args"] = ["--simulate", "--health-port", "-1"]
    placement = cluster.placement(
        f"{CONFIG_DAEMON_NAME}-{node}",
        await cluster.service_account(pod_spec["serviceAccountName"]),
        node_name=node,
        volumes={"host": root},
    )
    policy = next(
        d.body for d in load_paths([FIXTURES / "seed"]).documents if d.body["metadata"]["name"] == "dpdk1"
    )
    policy["metadata"]["namespace"] = namespace
    with running_container(cluster.podman, pod_spec, container, placement, tmp_path / "daemon.log") as daemon:
        cluster.containers.append(daemon)
        try:

            async def discovered() -> bool:
                state = await objects.get(SRIOV_NETWORK_NODE_STATES, node, namespace)
                return bool(((state or {}).get("status") or {}).get("interfaces"))

            # the webhook admits a policy once its nicSelector matches a NIC some daemon reported
            await cluster.wait("the daemon's report of the host's NICs", discovered)
            refusals: list[str] = []

            async def admitted() -> bool:
                try:
                    await objects.create(SRIOV_NETWORK_NODE_POLICIES, policy, namespace)
                except KubeApiError as error:
                    refusals[:] = [str(error)]
                    return False
                return True

            try:
                await cluster.wait("the webhook to admit the seed's policy", admitted)
            except AssertionError as error:
                raise AssertionError(f"{error}\nlast refusal: {refusals}") from None

            async def succeeded() -> dict[str, Any] | None:
                state = await objects.get(SRIOV_NETWORK_NODE_STATES, node, namespace)
                if state is None or not (state.get("spec") or {}).get("interfaces"):
                    return None
                return await synced(objects, namespace, node, state["metadata"]["generation"])

            state = await cluster.wait("the NodeState Succeeded with the seed's DPDK policy", succeeded)
            assert state["spec"]["interfaces"][0]["pciAddress"] == DPDK_PORT
            assert driver_of(root, DPDK_PORT) == "vfio-pci"
        finally:
            cluster.containers.remove(daemon)
            await objects.delete(SRIOV_NETWORK_NODE_POLICIES, "dpdk1", namespace)


async def test_the_image_holds_the_project_and_its_runtime_dependencies_only(
    built: tuple[Podman, Built],
) -> None:
    podman, image = built
    program = "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'])"
    listing = podman.run(
        "run", "--rm", *ulimit_args(), "--network", "none", "--entrypoint", "/opt/sriov-operator/bin/python",
        image.image, "-c", program,
    )  # fmt: skip
    names = {line.strip().lower().replace("_", "-") for line in listing.splitlines() if line.strip()}
    assert "sriov-fdp-operator" in names
    test_tooling = ("pytest", "hypothesis", "mypy", "ruff", "pip", "setuptools", "sriov-fdp-operator-vmtest")
    for test_only in test_tooling:
        assert test_only not in names, sorted(names)
    # the VM toolkit (test tooling) is in neither its old place in the package nor as a package of its own
    probe = (
        "import importlib.util, pathlib, sriov_operator\n"
        "package = pathlib.Path(sriov_operator.__file__).parent\n"
        "print(sorted(str(p.relative_to(package)) for p in package.rglob('*vmtest*')))\n"
        "print(importlib.util.find_spec('sriov_vmtest'))"
    )
    found = podman.run(
        "run", "--rm", *ulimit_args(), "--network", "none", "--entrypoint", "/opt/sriov-operator/bin/python",
        image.image, "-c", probe,
    )  # fmt: skip
    assert found.split() == ["[]", "None"], found
