"""deploy/ (kustomize base and overlay, Helm chart, CRDs) is generated from src/sriov_operator/install/.

These check the generated files without any tool; tests/integration/test_install_dry_run.py
runs helm and kubectl on them and has the real API server accept every object.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.api.constants import (
    CONFIG_DAEMON_NAME,
    DEFAULT_OPERATOR_NAMESPACE,
    DEVICE_PLUGIN_CONFIG_FOR_LABEL,
    DEVICE_PLUGIN_CONFIGMAP_PREFIX,
    DRAIN_ANSWER_ANNOTATIONS,
)
from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.commands.operator import add_operator_arguments, operator_settings_from
from sriov_operator.install import objects
from sriov_operator.install.files import deploy_files
from sriov_operator.install.values import Defaults, default_values, value_table, version_tag
from sriov_operator.operator.workloads.render import render_workloads
from sriov_operator.operator.workloads.settings import WorkloadSettings
from sriov_operator.runtime.settings import env_variable
from tests.doc_runner import run_console
from tests.docs_examples import example
from tests.support import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
GENERATED_TREES = ("kustomize", "helm", "crds", "multus", "policies")


def _defaults() -> Defaults:
    return default_values()


def test_committed_deploy_files_are_exactly_what_the_code_generates() -> None:
    expected = deploy_files()
    committed = {
        str(path.relative_to(DEPLOY)): path.read_text()
        for tree in GENERATED_TREES
        for path in (DEPLOY / tree).rglob("*")
        if path.is_file()
    }
    stale = sorted(name for name in expected if committed.get(name) != expected[name])
    extra = sorted(set(committed) - set(expected))
    assert not stale and not extra, (
        f"regenerate: `sriov-operator manifests --output-dir deploy`; stale {stale}, not generated {extra}"
    )


def _environment(deployment: dict[str, Any]) -> dict[str, str]:
    """The operator container's environment as a pod would see it (downward API filled in)."""
    fields = {"metadata.namespace": DEFAULT_OPERATOR_NAMESPACE, "metadata.name": "sriov-network-operator-abc"}
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return {
        e["name"]: e["value"] if "value" in e else fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
        for e in env
    }


def test_the_deployment_environment_is_read_by_the_operator_as_intended() -> None:
    deployment = objects.operator_deployment(_defaults())
    environ = _environment(deployment)
    parser = argparse.ArgumentParser()
    add_operator_arguments(parser, environ=environ)
    known = {env_variable(flag) for action in parser._actions for flag in action.option_strings}
    assert set(environ) <= known, f"variables no operator flag reads: {sorted(set(environ) - known)}"

    settings = operator_settings_from(parser.parse_args([]))
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/sriov-fdp/sriov-fdp-operator:{version_tag()}"
    assert settings.runtime.leader_elect is True
    assert settings.runtime.namespace == DEFAULT_OPERATOR_NAMESPACE
    assert settings.runtime.identity == "sriov-network-operator-abc"
    assert settings.runtime.health_port == 8081
    assert settings.runtime.log_format == "json"
    assert settings.apply_crds is True
    assert settings.workloads.daemon_image == image  # the config daemon and webhook run the operator's image


def test_every_image_is_pinned_by_a_tag_other_than_latest() -> None:
    deployment = objects.operator_deployment(_defaults())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    environ = _environment(deployment)
    for image in (container["image"], environ["SRIOV_OPERATOR_DEVICE_PLUGIN_IMAGE"]):
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag and tag not in ("", "latest"), image


def _grants(rules: list[dict[str, Any]], group: str, resource: str, verb: str, name: str) -> bool:
    return any(
        group in rule["apiGroups"]
        and (resource in rule["resources"] or "*" in rule["resources"])
        and verb in rule["verbs"]
        and (not rule.get("resourceNames") or name in rule["resourceNames"])
        for rule in rules
    )


def test_the_operator_holds_every_permission_it_grants_its_workloads() -> None:
    """Kubernetes refuses a Role granting what its creator lacks (RBAC escalation check)."""
    config = SriovOperatorConfig.model_validate(
        {"metadata": {"name": "default"}, "spec": {"enableOperatorWebhook": True}}
    )
    roles = [
        o for o in render_workloads(config, WorkloadSettings()).apply if o["kind"] in ("Role", "ClusterRole")
    ]
    assert {r["metadata"]["name"] for r in roles} >= {CONFIG_DAEMON_NAME}
    for role in roles:
        held = (
            objects.namespace_rules() + objects.cluster_rules()
            if role["kind"] == "Role"
            else objects.cluster_rules()
        )
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        for name in rule.get("resourceNames") or [""]:
                            assert _grants(held, group, resource, verb, name), (
                                role["metadata"]["name"],
                                rule,
                            )


def test_values_reference_in_docs_lists_every_value() -> None:
    text = (REPO_ROOT / "docs" / "install.md").read_text()
    section = text.split("## Values reference")[1].split("\n## ")[0]
    rows = [line.split("|")[1].strip().strip("`") for line in section.splitlines() if line.startswith("| `")]
    assert rows == [value.path for value in value_table(version_tag())]


def test_openshift_values_only_name_existing_values() -> None:
    chart = DEPLOY / "helm" / "sriov-fdp-operator"
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    overrides = yaml.safe_load((chart / "values-openshift.yaml").read_text())

    def paths(node: Any, prefix: str = "") -> set[str]:
        if not isinstance(node, dict):
            return {prefix}
        return {p for key, sub in node.items() for p in paths(sub, f"{prefix}.{key}" if prefix else key)}

    assert paths(overrides) <= paths(defaults)


def test_the_node_scope_policy_is_written_as_the_source_file() -> None:
    source = Path(objects.__file__).with_name(objects.POLICY_FILE).read_text()
    assert deploy_files()["policies/config-daemon-node-scope.yaml"] == source


def _noiommu_check(config: Path) -> int:
    [command] = example("install-check-noiommu").commands()
    documented = '/boot/config-"$(uname -r)"'
    assert documented in command
    return subprocess.run(["bash", "-c", command.replace(documented, str(config))], check=False).returncode


def test_the_documented_noiommu_check_tells_the_two_kernels_apart(tmp_path: Path) -> None:
    rhcos = tmp_path / "config-rhcos"
    rhcos.write_text("CONFIG_VFIO=m\nCONFIG_VFIO_NOIOMMU=y\nCONFIG_VFIO_PCI=m\n")
    debian = tmp_path / "config-debian"
    debian.write_text("CONFIG_VFIO=m\n# CONFIG_VFIO_NOIOMMU is not set\nCONFIG_VFIO_PCI=m\n")
    assert (_noiommu_check(rhcos), _noiommu_check(debian)) == (0, 1)


def test_the_manifests_example_writes_every_file_then_nothing(tmp_path: Path) -> None:
    steps = run_console(example("cli-manifests"), tmp_path)
    written = {
        str(p.relative_to(tmp_path / "deploy")) for p in (tmp_path / "deploy").rglob("*") if p.is_file()
    }
    assert written == set(deploy_files())
    assert steps[-1].printed == ""


def test_node_scope_policy_names_the_operator_s_drain_answers_and_names_as_the_code_does() -> None:
    """The policy is CEL, the rest Python: the keys and the ConfigMap name rule must not drift apart."""
    policy = objects.node_scope_policy()[0]
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    listed = re.findall(r"'([^']+)'", variables["drainAnswers"])
    assert listed == list(DRAIN_ANSWER_ANNOTATIONS)
    assert variables["configFor"] == f"'{DEVICE_PLUGIN_CONFIG_FOR_LABEL}'"
    rules = " ".join(v["expression"] for v in policy["spec"]["validations"])
    assert f"'{DEVICE_PLUGIN_CONFIGMAP_PREFIX}' + variables.node" in rules
