"""The metricsExporter gate: upstream's per-VF exporter, its Service and (where served) ServiceMonitor."""

from __future__ import annotations

import argparse
import re
from typing import Any

import pytest
import yaml

from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.errors import BadInputError
from sriov_operator.operator.workloads.render import Workloads, render_workloads
from sriov_operator.operator.workloads.settings import (
    WorkloadSettings,
    add_workload_arguments,
    workload_settings_from,
)
from tests.docs_examples import example

EXPORTER = "sriov-network-metrics-exporter"
SETTINGS = WorkloadSettings(namespace="sriov", metrics_exporter_image="registry.test/exporter:v2")


def render(gates: dict[str, bool] | None, service_monitors: bool = False) -> Workloads:
    spec = {"featureGates": gates} if gates is not None else {}
    config = SriovOperatorConfig.model_validate({"metadata": {"name": "default"}, "spec": spec})
    return render_workloads(config, SETTINGS, service_monitors=service_monitors)


def exporter_objects(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects if o["metadata"]["name"] == EXPORTER}


@pytest.mark.parametrize("gates", [None, {}, {"metricsExporter": False}, {"otherGate": True}])
def test_without_the_gate_nothing_of_the_exporter_runs_and_what_we_made_is_deleted(
    gates: dict[str, bool] | None,
) -> None:
    workloads = render(gates, service_monitors=True)
    assert exporter_objects(workloads.apply) == {}
    deleted = exporter_objects(workloads.delete)
    assert set(deleted) == {"ServiceAccount", "DaemonSet", "Service", "ServiceMonitor"}
    assert deleted["DaemonSet"]["metadata"] == {"name": EXPORTER, "namespace": "sriov"}


def test_the_gate_deploys_the_exporter_with_the_configured_image_on_configured_nodes() -> None:
    objects = exporter_objects(render({"metricsExporter": True}).apply)
    assert set(objects) == {"ServiceAccount", "DaemonSet", "Service"}  # no ServiceMonitor CRD served
    pod = objects["DaemonSet"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.test/exporter:v2"
    assert pod["serviceAccountName"] == EXPORTER
    assert pod["hostNetwork"] is True  # the netlink collector reads the host's PFs
    assert pod["nodeSelector"] == {"sriovnetwork.openshift.io/device-plugin": "Enabled"}
    assert "--web.listen-address=:9110" in container["args"]
    assert all(mount.get("readOnly") for mount in container["volumeMounts"])
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_service_selects_the_exporter_pods_on_the_metrics_port() -> None:
    objects = exporter_objects(render({"metricsExporter": True}).apply)
    service = objects["Service"]["spec"]
    pod = objects["DaemonSet"]["spec"]["template"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    (port,) = service["ports"]
    (container_port,) = pod["spec"]["containers"][0]["ports"]
    assert port["targetPort"] == container_port["containerPort"]
    assert len(container_port["name"]) <= 15  # the API server refuses longer container port names


def test_a_service_monitor_scrapes_the_service_where_the_crd_is_served() -> None:
    objects = exporter_objects(render({"metricsExporter": True}, service_monitors=True).apply)
    monitor = objects["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "sriov"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= objects["Service"]["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == objects["Service"]["spec"]["ports"][0]["name"]
    assert endpoint["relabelings"][0]["targetLabel"] == "node"


def test_the_exporter_account_has_no_api_roles() -> None:
    kinds = {o["kind"] for o in render({"metricsExporter": True}).apply if o["metadata"]["name"] == EXPORTER}
    assert not kinds & {"ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"}


def settings_from(*argv: str) -> WorkloadSettings:
    parser = argparse.ArgumentParser()
    add_workload_arguments(parser, environ={})
    args = parser.parse_args(list(argv))
    return workload_settings_from(args, namespace="sriov", resource_prefix="example.com")


def test_the_exporter_image_is_an_operator_setting_and_must_be_pinned() -> None:
    chosen = settings_from("--metrics-exporter-image", "registry.test/exporter@sha256:" + "a" * 64)
    assert chosen.metrics_exporter_image == "registry.test/exporter@sha256:" + "a" * 64
    refusal = re.escape("--metrics-exporter-image: 'registry.test/exporter:latest' is not pinned")
    with pytest.raises(BadInputError, match=refusal):
        settings_from("--metrics-exporter-image", "registry.test/exporter:latest")


def test_the_documented_config_turns_the_exporter_on() -> None:
    config = SriovOperatorConfig.model_validate(yaml.safe_load(example("metrics-exporter-gate").text))
    applied = render_workloads(config, SETTINGS).apply
    assert {"DaemonSet", "Service"} <= set(exporter_objects(applied))
