"""SriovOperatorConfig -> DaemonSets, Deployment, Service and RBAC, as pure data."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from typing import Any

import pytest

from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.cli import build_parser
from sriov_operator.operator.workloads.render import Workloads, cni_plugins_used, render_workloads
from sriov_operator.operator.workloads.settings import WorkloadSettings

SETTINGS = WorkloadSettings(
    namespace="sriov",
    resource_prefix="example.com",
    operator_image="registry.test/operator:v1.2.3",
    device_plugin_image="registry.test/dp:v9",
)


def render(spec: dict[str, Any] | None = None) -> Workloads:
    config = SriovOperatorConfig.model_validate({"metadata": {"name": "default"}, "spec": spec or {}})
    return render_workloads(config, SETTINGS)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def container(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    spec = find(objects, kind, name)["spec"]["template"]["spec"]
    return dict(spec["containers"][0])


def env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "<from>") for e in c["env"]}


def test_default_config_runs_daemon_and_device_plugin_without_webhook() -> None:
    workloads = render()
    kinds = {(o["kind"], o["metadata"]["name"]) for o in workloads.apply}
    assert ("DaemonSet", "sriov-network-config-daemon") in kinds
    assert ("DaemonSet", "sriov-device-plugin") in kinds
    assert not any(name == "sriov-operator-webhook" for _, name in kinds)
    deleted = {
        (o["kind"], o["metadata"]["name"])
        for o in workloads.delete
        if o["metadata"]["name"] == "sriov-operator-webhook"
    }
    assert deleted == {
        (kind, "sriov-operator-webhook")
        for kind in (
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            "Service",
        )
    }


@pytest.mark.parametrize("flag", ["enableOperatorWebhook", "enableInjector"])
def test_either_webhook_flag_runs_the_webhook_deployment_and_service(flag: str) -> None:
    workloads = render({flag: True})
    assert not [o for o in workloads.delete if o["metadata"]["name"] == "sriov-operator-webhook"]
    deployment = find(workloads.apply, "Deployment", "sriov-operator-webhook")
    service = find(workloads.apply, "Service", "sriov-operator-webhook")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["port"] == 443
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.test/operator:v1.2.3"
    webhook_env = env(container(workloads.apply, "Deployment", "sriov-operator-webhook"))
    # the serving key pair the webhook's certificate controller writes, mounted where the flags point
    assert webhook_env["SRIOV_OPERATOR_TLS_CERT"] == "/etc/sriov-operator/webhook-tls/tls.crt"
    assert webhook_env["SRIOV_OPERATOR_TLS_KEY"] == "/etc/sriov-operator/webhook-tls/tls.key"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "tls", "secret": {"secretName": "sriov-operator-webhook-cert"}}]


def test_config_daemon_honours_selector_log_level_and_the_users_variables() -> None:
    workloads = render(
        {
            "configDaemonNodeSelector": {"sriov": "yes"},
            "logLevel": 2,
            "configDaemonEnvVars": {"HTTP_PROXY": "http://proxy:3128", "SRIOV_OPERATOR_LOG_LEVEL": "WARNING"},
        }
    )
    daemon_set = find(workloads.apply, "DaemonSet", "sriov-network-config-daemon")
    pod = daemon_set["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"sriov": "yes"}
    daemon_env = env(pod["containers"][0])
    assert daemon_env["SRIOV_OPERATOR_HOST_ROOT"] == "/host"
    assert daemon_env["SRIOV_OPERATOR_NAMESPACE"] == "sriov"
    assert daemon_env["HTTP_PROXY"] == "http://proxy:3128"
    assert daemon_env["SRIOV_OPERATOR_LOG_LEVEL"] == "WARNING"  # the user's explicit variable wins
    assert daemon_env["SRIOV_OPERATOR_NODE_NAME"] == "<from>"
    names = [e["name"] for e in pod["containers"][0]["env"]]
    assert len(names) == len(set(names))
    assert pod["containers"][0]["securityContext"] == {"privileged": True, "runAsUser": 0}
    assert pod["volumes"][0] == {"name": "host", "hostPath": {"path": "/", "type": "Directory"}}


def accepted_variables(subcommand: str) -> set[str]:
    """The environment variables ``sriov-operator <subcommand> --help`` says its flags read."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args([subcommand, "--help"])
    return set(re.findall(r"\[env (\w+);", " ".join(out.getvalue().split())))


def test_every_variable_rendered_for_our_commands_is_one_they_read() -> None:
    """A variable the command does not read would look like a setting while doing nothing."""
    everything = {
        "enableOperatorWebhook": True,
        "logLevel": 1,
        "disableDrain": True,
        "featureGates": {"parallelNicConfig": True},
        "disablePlugins": ["mellanox"],
        "enableOvsOffload": True,
    }
    checked = set()
    for obj in render(everything).apply:
        if obj["kind"] not in ("DaemonSet", "Deployment"):
            continue
        for c in obj["spec"]["template"]["spec"]["containers"]:
            if c["command"][0] != "sriov-operator":
                continue  # upstream's device plugin: not our flags
            rendered = {e["name"] for e in c["env"]}
            unread = rendered - accepted_variables(c["command"][1])
            assert not unread, f"{obj['kind']}/{obj['metadata']['name']}: {sorted(unread)} not read"
            checked.add(c["command"][1])
    assert checked == {"daemon", "webhook"}


@pytest.mark.parametrize(("level", "expected"), [(None, "INFO"), (0, "INFO"), (1, "DEBUG"), (2, "DEBUG")])
def test_log_level_maps_to_our_levels(level: int | None, expected: str) -> None:
    spec = {} if level is None else {"logLevel": level}
    daemon_env = env(container(render(spec).apply, "DaemonSet", "sriov-network-config-daemon"))
    assert daemon_env["SRIOV_OPERATOR_LOG_LEVEL"] == expected


def test_default_node_selector_is_linux_workers() -> None:
    pod = find(render().apply, "DaemonSet", "sriov-network-config-daemon")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux"}


def test_device_plugin_runs_on_labelled_nodes_and_waits_for_the_handed_over_file() -> None:
    workloads = render({"useCDI": True})
    daemon_set = find(workloads.apply, "DaemonSet", "sriov-device-plugin")
    pod = daemon_set["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"sriovnetwork.openshift.io/device-plugin": "Enabled"}
    dp = pod["containers"][0]
    assert dp["image"] == "registry.test/dp:v9"
    script = dp["command"][2]
    assert script.index('while [ ! -f "$CONFIG_FILE" ]') < script.index("exec /usr/bin/sriovdp")
    assert env(dp)["CONFIG_FILE"] == "/etc/sriov-operator/device-plugin/config.json"
    assert "--resource-prefix=example.com" in dp["command"]
    assert "--use-cdi" in dp["command"]
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert config_volume["hostPath"]["path"] == "/etc/sriov-operator/device-plugin"
    mount = next(m for m in dp["volumeMounts"] if m["name"] == "config")
    assert mount == {"name": "config", "mountPath": "/etc/sriov-operator/device-plugin", "readOnly": True}
    assert "--use-cdi" not in container(render().apply, "DaemonSet", "sriov-device-plugin")["command"]


def allows(objects: list[dict[str, Any]], account: str, group: str, resource: str, verb: str) -> bool:
    """Does any Role/ClusterRole bound to ``account`` grant ``verb`` on ``group``/``resource``?"""
    bound = {
        (b["roleRef"]["kind"], b["roleRef"]["name"])
        for b in objects
        if b["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and any(s["name"] == account for s in b["subjects"])
    }
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for role in objects
        if (role["kind"], role["metadata"]["name"]) in bound
        for rule in role["rules"]
    )


@pytest.mark.parametrize(
    ("group", "resource", "verb", "allowed"),
    [
        ("sriovnetwork.openshift.io", "sriovnetworknodestates/status", "patch", True),
        ("sriovnetwork.openshift.io", "sriovnetworknodestates", "patch", True),  # desired-state annotation
        ("", "nodes", "patch", True),
        ("", "events", "create", True),  # the core API: Events with lastTimestamp
        ("", "configmaps", "get", True),
        ("", "pods", "delete", True),
        ("sriovnetwork.openshift.io", "sriovnetworknodepolicies", "get", False),
        ("", "secrets", "get", False),
        ("", "nodes", "delete", False),
    ],
)
def test_config_daemon_rbac_is_what_it_needs(group: str, resource: str, verb: str, allowed: bool) -> None:
    objects = render().apply
    assert allows(objects, "sriov-network-config-daemon", group, resource, verb) is allowed


def test_device_plugin_account_has_no_api_access() -> None:
    objects = render().apply
    find(objects, "ServiceAccount", "sriov-device-plugin")
    assert not any(
        o["kind"].endswith("Binding") and o["metadata"]["name"] == "sriov-device-plugin" for o in objects
    )


def test_every_object_is_labelled_and_namespaced_ones_are_in_the_operator_namespace() -> None:
    cluster_kinds = {"ClusterRole", "ClusterRoleBinding"}
    for obj in render({"enableOperatorWebhook": True}).apply:
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "sriov-fdp-operator"
        assert obj["metadata"].get("namespace") == (None if obj["kind"] in cluster_kinds else "sriov")


def test_rendering_is_deterministic() -> None:
    spec = {"featureGates": {"b": True, "a": False}, "enableInjector": True}
    assert render(spec) == render(spec)


def _cni(workloads: Workloads) -> list[dict[str, Any]]:
    spec = find(workloads.apply, "DaemonSet", "sriov-network-config-daemon")["spec"]["template"]["spec"]
    return list(spec.get("initContainers", []))


def test_the_config_daemon_installs_the_sriov_cni_plugin_always_and_the_others_when_used() -> None:
    config = SriovOperatorConfig.model_validate({"metadata": {"name": "default"}, "spec": {}})
    settings = dataclasses.replace(
        SETTINGS, sriov_cni_image="registry.test/sriov-cni:v2", cni_bin_dir="/var/lib/cni/bin"
    )
    only_sriov = render_workloads(config, settings, cni_plugins_used(ib_networks=0, ovs_networks=0))
    [sriov] = _cni(only_sriov)
    assert sriov["image"] == "registry.test/sriov-cni:v2"
    # copied under a temporary name, then renamed: a pod never runs a half-written plugin
    assert (
        sriov["command"][-1]
        == "cp -f /usr/bin/sriov /host-cni-bin/sriov.new && mv -f /host-cni-bin/sriov.new /host-cni-bin/sriov"
    )
    spec = find(only_sriov.apply, "DaemonSet", "sriov-network-config-daemon")["spec"]["template"]["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == "cni-bin")
    assert volume["hostPath"] == {"path": "/var/lib/cni/bin", "type": "DirectoryOrCreate"}
    everything = render_workloads(config, settings, cni_plugins_used(ib_networks=1, ovs_networks=2))
    assert [c["name"] for c in _cni(everything)] == ["sriov-cni", "ib-sriov-cni", "ovs-cni"]
    assert [c["name"] for c in _cni(render_workloads(config, settings, cni_plugins_used(0, 1)))] == [
        "sriov-cni",
        "ovs-cni",
    ]


def test_pull_secrets_reach_every_pod_and_tls_settings_the_webhook() -> None:
    config = SriovOperatorConfig.model_validate(
        {"metadata": {"name": "default"}, "spec": {"enableOperatorWebhook": True}}
    )
    settings = dataclasses.replace(
        SETTINGS,
        image_pull_secrets=("mirror",),
        webhook_tls_min_version="1.3",
        webhook_tls_ciphers="ECDHE-RSA-AES128-GCM-SHA256",
    )
    workloads = render_workloads(config, settings)
    for kind, name in (
        ("DaemonSet", "sriov-network-config-daemon"),
        ("DaemonSet", "sriov-device-plugin"),
        ("Deployment", "sriov-operator-webhook"),
    ):
        assert find(workloads.apply, kind, name)["spec"]["template"]["spec"]["imagePullSecrets"] == [
            {"name": "mirror"}
        ]
    webhook_env = env(container(workloads.apply, "Deployment", "sriov-operator-webhook"))
    assert webhook_env["SRIOV_OPERATOR_TLS_MIN_VERSION"] == "1.3"
    assert webhook_env["SRIOV_OPERATOR_TLS_CIPHERS"] == "ECDHE-RSA-AES128-GCM-SHA256"
    plain = find(render_workloads(config, SETTINGS).apply, "DaemonSet", "sriov-device-plugin")
    assert "imagePullSecrets" not in plain["spec"]["template"]["spec"]


def test_config_daemon_records_events_only_in_the_operator_namespace() -> None:
    """A token bound to worker-0 created an Event in kube-system: the grant was cluster-wide."""
    objects = render().apply
    cluster_roles = [o for o in objects if o["kind"] == "ClusterRole"]
    assert not any(
        "events" in rule["resources"]
        for role in cluster_roles
        if role["metadata"]["name"] == "sriov-network-config-daemon"
        for rule in role["rules"]
    )
    [role] = [
        o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == "sriov-network-config-daemon"
    ]
    assert role["metadata"]["namespace"] == SETTINGS.namespace
    assert any("events" in rule["resources"] for rule in role["rules"])


@pytest.mark.parametrize(("gates", "expected"), [({}, "false"), ({"mellanoxFirmwareReset": True}, "true")])
def test_the_mellanox_firmware_reset_gate_reaches_the_daemon(gates: dict[str, bool], expected: str) -> None:
    daemon_set = find(render({"featureGates": gates}).apply, "DaemonSet", "sriov-network-config-daemon")
    daemon_env = env(daemon_set["spec"]["template"]["spec"]["containers"][0])
    assert daemon_env["SRIOV_OPERATOR_MELLANOX_FIRMWARE_RESET"] == expected
