"""`kubectl explain` on our CRDs explains every field, with the real kubectl against the real API server."""

from __future__ import annotations

import asyncio
import copy
import itertools
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from sriov_operator.api.crds import all_crds
from sriov_operator.api.models import ALL_KINDS
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.controlplane.tools import DeployTools
from sriov_operator.kube.crds import install_crds
from tests.doc_runner import run_console
from tests.docs_examples import example
from tests.kube_client import kube_objects

FIELD = re.compile(r"^(?P<indent> +)(?P<name>[A-Za-z0-9_]+)\t<(?P<type>[^>]+)>")
NOT_PUBLISHED_YET = "couldn't find resource"


class Explainer:
    """Runs ``kubectl explain`` against one API server, waiting for a freshly installed CRD's schema."""

    def __init__(self, kubectl: Path, kubeconfig: Path, cache_dir: Path) -> None:
        self.base = [str(kubectl), "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache_dir), "explain"]

    def __call__(self, *args: str) -> str:
        deadline = time.monotonic() + 60
        while True:
            done = subprocess.run(
                [*self.base, *args], capture_output=True, text=True, timeout=60, check=False
            )
            if done.returncode == 0:
                return done.stdout
            if NOT_PUBLISHED_YET not in done.stderr or time.monotonic() > deadline:
                raise AssertionError(f"kubectl explain {' '.join(args)} failed: {done.stderr.strip()}")
            time.sleep(0.5)  # the API server publishes a new CRD's OpenAPI schema shortly after Established


def object_paths(recursive: str) -> list[str]:
    """The dotted paths of the fields that have fields of their own, from ``explain --recursive``."""
    stack: list[str] = []
    fields: list[tuple[int, str]] = []
    for line in recursive.split("FIELDS:", 1)[1].splitlines():
        if match := FIELD.match(line):
            depth = len(match["indent"]) // 2 - 1
            stack[depth:] = [match["name"]]
            fields.append((depth, ".".join(stack)))
    return [path for (depth, path), (next_depth, _) in itertools.pairwise(fields) if next_depth > depth]


def undescribed(explained: str, path: str) -> list[str]:
    """Fields of one ``kubectl explain`` page that kubectl shows without a description."""
    missing = [path] if re.search(r"^DESCRIPTION:\n\s*<empty>", explained, re.MULTILINE) else []
    current = ""
    for line in explained.split("FIELDS:", 1)[-1].splitlines() if "FIELDS:" in explained else []:
        if match := FIELD.match(line):
            current = match["name"]
        elif line.strip() == "<no description>":
            missing.append(f"{path}.{current}")
    return missing


def fields_without_description(explain: Explainer, kind: str) -> list[str]:
    """Every field of ``kind`` (outside Kubernetes' own metadata) that ``kubectl explain`` cannot explain."""
    paths = [p for p in object_paths(explain(kind, "--recursive")) if not p.startswith("metadata")]
    pages = [kind, *(f"{kind}.{path}" for path in paths)]
    return [field for page in pages for field in undescribed(explain(page), page)]


@pytest.fixture
def explain(control_plane: ControlPlane, tools: DeployTools, tmp_path: Path) -> Explainer:
    return Explainer(tools.kubectl, control_plane.kubeconfig, tmp_path / "kubectl-cache")


async def test_every_field_of_the_seven_kinds_has_a_description(
    kube: client.ApiClient, explain: Explainer
) -> None:
    for kind in ALL_KINDS:
        missing = await asyncio.to_thread(fields_without_description, explain, kind.KIND.lower())
        assert missing == [], f"kubectl explain shows <no description> for: {missing}"


async def test_the_check_sees_a_missing_description(kube: client.ApiClient, explain: Explainer) -> None:
    """The same CRD with its descriptions removed: the check above must name its fields."""
    bare = copy.deepcopy(next(crd for crd in all_crds() if crd["spec"]["names"]["kind"] == "SriovNetwork"))
    bare["metadata"]["name"] = "barenetworks.example.com"
    bare["spec"]["group"] = "example.com"
    bare["spec"]["names"] = {"kind": "BareNetwork", "plural": "barenetworks", "singular": "barenetwork"}
    _drop_descriptions(bare["spec"]["versions"])
    await install_crds(kube_objects(kube), [bare])
    missing = await asyncio.to_thread(fields_without_description, explain, "barenetwork")
    assert {"barenetwork", "barenetwork.spec.vlan", "barenetwork.status.conditions.reason"} <= set(missing)


def _drop_descriptions(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("description", None)
        for value in node.values():
            _drop_descriptions(value)
    elif isinstance(node, list):
        for value in node:
            _drop_descriptions(value)


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("sriovnetworknodepolicy.spec.nicSelector.netFilter", ["openstack/NetworkID:", "VMs"]),
        ("sriovnetworknodepolicy.spec.deviceType", ["netdevice", "vfio-pci", "DPDK", "Default netdevice"]),
        ("sriovnetworknodepolicy.spec.numVfs", ["VFs", "on VMs, 1"]),
        ("sriovnetworknodepolicy.spec.priority", ["99"]),
        ("sriovnetwork.spec.vlan", ["VLAN"]),
        ("sriovnetworknodestate.status.syncStatus", ["Succeeded", "InProgress", "Failed"]),
    ],
)
async def test_fields_a_user_asks_about_are_explained(
    kube: client.ApiClient, explain: Explainer, field: str, says: list[str]
) -> None:
    text = " ".join((await asyncio.to_thread(explain, field)).split())
    for words in says:
        assert words in text, f"kubectl explain {field} does not say {words!r}:\n{text}"


async def test_the_documented_kubectl_explain_session(
    kube: client.ApiClient,
    control_plane: ControlPlane,
    tools: DeployTools,
    explain: Explainer,
    tmp_path: Path,
) -> None:
    explain("sriovnetworknodepolicy")  # the schema is published
    environment = {
        "PATH": f"{tools.kubectl.parent}{os.pathsep}{os.environ['PATH']}",
        "KUBECONFIG": str(control_plane.kubeconfig),
        "KUBECACHEDIR": str(tmp_path / "kubectl-cache"),
    }
    steps = await asyncio.to_thread(run_console, example("kubectl-explain"), tmp_path, None, environment)
    assert [step.command.split()[:2] for step in steps] == [["kubectl", "explain"]] * len(steps)
