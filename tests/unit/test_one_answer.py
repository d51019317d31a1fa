"""One question, one answer: the webhook, ``validate``, ``render`` and ``diff`` judge an object alike.

Each case is a cluster and one object applied to it. The webhook reviews the object as the
API server sends it (mutating webhook first) against the cluster, the way the engine
conftest's agreement check does; the three commands run as a user runs them, on files
(``validate`` and ``render`` on the cluster's files and the object's, ``diff --from`` the
cluster). Their errors and warnings about the object must be the same lines (less
``[file:line]`` and command-line advice), and the exit codes must say the same.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sriov_operator.cli import main
from sriov_operator.webhook.admission import AdmissionSettings, mutate_object, validate_object
from tests.unit.engine.builders import NS, node, pf, policy, state, worker
from tests.unit.webhook.agreement import apply_json_patch, cluster_words, snapshot_of

VM_PORT = {
    **pf("ens4", "0000:00:04.0", vendor="15b3", device="101e", numVfs=1, totalvfs=1, driver="mlx5_core"),
    "netFilter": "openstack/NetworkID:n1",
}
VM = [node("vm1", provider_id="openstack:///x"), state("vm1", [VM_PORT])]
NET_FILTER = {"netFilter": "openstack/NetworkID:n1"}


def _elsewhere(body: dict[str, Any]) -> dict[str, Any]:
    body["metadata"]["namespace"] = "elsewhere"
    return body


def _operator_config(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": NS},
        "spec": spec,
    }


def _network(resource: str) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetwork",
        "metadata": {"name": "net", "namespace": NS},
        "spec": {"resourceName": resource},
    }


@dataclass(frozen=True)
class Case:
    name: str
    cluster: list[dict[str, Any]]
    applied: dict[str, Any]
    refused: bool  # what the webhook must say, so the table also pins the rules it covers
    warned: bool = False


CASES = [
    Case("valid policy", worker(), policy("p", numVfs=8), refused=False),
    Case("isRdma with vfio-pci", worker(), policy("p", deviceType="vfio-pci", isRdma=True), refused=True),
    Case("priority out of range", worker(), policy("p", priority=120), refused=True),
    Case("numVfs 2 on a VM port", VM, policy("hw", numVfs=2, nicSelector=NET_FILTER), refused=True),
    Case("numVfs 1 on a VM port", VM, policy("hw", numVfs=1, nicSelector=NET_FILTER), refused=False),
    Case(
        "switchdev on a VM port selected by vendor",
        VM,
        policy("hw", numVfs=1, nicSelector={"vendor": "15b3"}, eSwitchMode="switchdev"),
        refused=True,
    ),
    Case(
        "bridge with netFilter",
        VM,
        policy("hw", numVfs=1, nicSelector=NET_FILTER, bridge={"ovs": {}}),
        refused=True,
    ),
    Case("outside the operator namespace", worker(), _elsewhere(policy("p")), refused=False, warned=True),
    Case(
        "pfNames typo, every node discovered",
        [*worker("w1"), *worker("w2")],
        policy("p", nicSelector={"pfNames": ["ens1f9"]}),
        refused=True,
        warned=True,  # and it matches no interface of either node
    ),
    Case(
        "pfNames typo, one node not discovered yet",
        [*worker("w1"), node("w2")],
        policy("p", nicSelector={"pfNames": ["ens1f9"]}),
        refused=False,
        warned=True,
    ),
    Case("drain disabled", worker(), _operator_config(disableDrain=True), refused=False, warned=True),
    Case("network without a policy", worker(), _network("nothing"), refused=False, warned=True),
]


def _webhook(case: Case) -> tuple[list[str], list[str]]:
    stored = [copy.deepcopy(b) for b in case.cluster]
    reviewed = apply_json_patch(case.applied, mutate_object(case.applied).patch)
    verdict = validate_object(reviewed, None, snapshot_of(stored), AdmissionSettings(NS))
    for line in [*verdict.errors, *verdict.warnings]:  # cluster words: no flags, no input files
        assert "--namespace" not in line and "in the inputs" not in line and ".yaml:" not in line, line
    return list(verdict.errors), list(verdict.warnings)


def _about(lines: list[str], body: dict[str, Any]) -> list[str]:
    metadata = body["metadata"]
    prefix = f"{body['kind']}/{metadata['namespace']}/{metadata['name']}: "
    return [cluster_words(line) for line in lines if line.startswith(prefix)]


def _write(path: Path, bodies: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(bodies, sort_keys=False))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_webhook_validate_render_and_diff_give_one_verdict(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    errors, warnings = _webhook(case)
    assert bool(errors) == case.refused, errors
    assert bool(warnings) == case.warned, warnings

    cluster = _write(tmp_path / "cluster.yaml", case.cluster)
    applied = _write(tmp_path / "applied.yaml", [case.applied])

    code, out, err = _run(capsys, "validate", "-f", str(cluster), "-f", str(applied))
    assert code == (1 if case.refused else 0), out
    validate_errors = _about(out.splitlines(), case.applied)
    validate_warnings = _about([line.removeprefix("warning: ") for line in err.splitlines()], case.applied)
    assert (validate_errors, validate_warnings) == (errors, warnings), "validate"

    code, out, _ = _run(capsys, "render", "-f", str(cluster), "-f", str(applied))
    rendered = json.loads(out)
    assert code == (1 if case.refused else 0)
    assert (_about(rendered["errors"], case.applied), _about(rendered["warnings"], case.applied)) == (
        errors,
        warnings,
    ), "render"

    code, out, _ = _run(capsys, "diff", "--from", str(cluster), "-f", str(applied), "-o", "json")
    diffed = json.loads(out)
    assert (code == 1) == case.refused, diffed
    assert (_about(diffed["refused"], case.applied), _about(diffed["warnings"], case.applied)) == (
        errors,
        warnings,
    ), "diff"
    if case.refused:
        assert diffed["nodes"] == [] and diffed["totals"]["nodesChanged"] == 0
