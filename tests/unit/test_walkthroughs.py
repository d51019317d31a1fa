"""docs/walkthrough-*.md: every session runs as written on a simulated VM, and what they say a cluster shows
is what our code produces for those objects."""

from __future__ import annotations

import base64
import io
import json
import shlex
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from sriov_operator.cli import main
from sriov_operator.daemon.status import daemon_conditions
from sriov_operator.daemon.sync import Decision
from sriov_operator.host.node import NodeHost
from sriov_operator.host.simulator.host_io import simulated_io
from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot
from sriov_operator.webhook.injector import NadKey
from sriov_operator.webhook.review import parse_review, review_response
from sriov_operator.webhook.server import Admission
from tests.doc_runner import run_console
from tests.docs_examples import Example, example
from tests.unit.webhook.agreement import apply_json_patch

NODE = "ocp-worker-0"


class Walkthrough:
    def __init__(self, sessions: list[Example], nodestate: Example, pod: Example, admitted: Example) -> None:
        self.sessions, self.nodestate, self.pod, self.admitted = sessions, nodestate, pod, admitted


WALKTHROUGHS = {
    "dpdk": Walkthrough(
        [
            example("dpdk-host"),
            example("dpdk-policy"),
            example("dpdk-worker"),
            example("dpdk-network"),
            example("dpdk-diff-render"),
            example("dpdk-plan-apply"),
        ],
        example("dpdk-nodestate"),
        example("dpdk-pod"),
        example("dpdk-pod-admitted"),
    ),
    "ovs-offload": Walkthrough(
        [
            example("offload-host"),
            example("offload-policy"),
            example("offload-worker"),  # its own worker.yaml, the same as the DPDK walkthrough's
            example("offload-render"),
            example("offload-plan-apply"),
        ],
        example("offload-nodestate"),
        example("offload-pod"),
        example("offload-pod-admitted"),
    ),
}


def _render_command(walkthrough: Walkthrough) -> list[str]:
    """The documented ``render`` command line, as arguments of ``main``."""
    commands = [c for session in walkthrough.sessions for c in session.commands()]
    [render] = [c for c in commands if c.startswith("sriov-operator render")]
    return shlex.split(render)[1:]


def _run(argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(cwd)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    return yaml.safe_load(out.getvalue())


@pytest.fixture(scope="module", params=sorted(WALKTHROUGHS))
def walked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Walkthrough, Path]:
    """Each walkthrough's sessions, run in order in one empty directory; each asserts its shown output."""
    walkthrough = WALKTHROUGHS[request.param]
    directory = tmp_path_factory.mktemp(request.param)
    for session in walkthrough.sessions:
        run_console(session, directory)
    return walkthrough, directory


def test_the_sessions_leave_the_port_configured(walked: tuple[Walkthrough, Path]) -> None:
    _, directory = walked
    applied = yaml.safe_load((directory / "applied.yaml").read_text())
    assert applied["applied"] and {a["result"] for a in applied["applied"]} == {"done"}


def test_the_node_state_shown_is_the_rendered_spec_and_the_discovered_port(
    walked: tuple[Walkthrough, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    walkthrough, directory = walked
    shown = yaml.safe_load(walkthrough.nodestate.text)
    rendered = _run(_render_command(walkthrough), directory, monkeypatch)
    assert shown["spec"] == rendered["nodeStates"][NODE]

    discovered = _run(["discover", "--host-root", "vm", "--simulate", "-o", "yaml"], directory, monkeypatch)
    [port] = shown["status"]["interfaces"]
    [found] = [i for i in discovered["interfaces"] if i["pciAddress"] == port["pciAddress"]]
    assert {key: found.get(key) for key in port} == port

    host = NodeHost.open(directory / "vm", io=simulated_io(directory / "vm"), node_ips=[])
    synced = Decision("idle", "Succeeded", "", "in sync")
    conditions = daemon_conditions(synced, None, host.observe().modules.noiommu_enabled)
    actual = {c.type: {"type": c.type, "status": c.status, "reason": c.reason} for c in conditions}
    assert [actual[c["type"]] for c in shown["status"]["conditions"]] == shown["status"]["conditions"]
    assert shown["status"]["syncStatus"] == "Succeeded"


class RenderedNads:
    """The cluster as the webhook sees it: the NADs ``render`` wrote for the walkthrough's network."""

    def __init__(self, nads: list[dict[str, Any]]) -> None:
        self.nads = {(nad["metadata"]["namespace"], nad["metadata"]["name"]): nad for nad in nads}

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot()

    async def network_attachment_definitions(self, keys: Any) -> dict[NadKey, Any]:
        return {key: self.nads.get(key) for key in keys}


async def test_the_pod_is_admitted_with_the_resource_shown(
    walked: tuple[Walkthrough, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    walkthrough, directory = walked
    rendered = _run(_render_command(walkthrough), directory, monkeypatch)
    pod = yaml.safe_load(walkthrough.pod.text)
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "walkthrough",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE",
            "namespace": pod["metadata"]["namespace"],
            "object": pod,
        },
    }
    request = parse_review(json.dumps(review).encode())
    cluster = RenderedNads(rendered["networkAttachmentDefinitions"])
    settings = AdmissionSettings("openshift-sriov-network-operator")
    verdict = await Admission(settings, cluster).inject(request)
    response = review_response(request.uid, verdict)["response"]
    assert response["allowed"], response
    admitted = apply_json_patch(pod, json.loads(base64.b64decode(response["patch"])))
    assert admitted["spec"] == yaml.safe_load(walkthrough.admitted.text)["spec"]
