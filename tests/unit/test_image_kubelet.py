"""The pod-spec-to-podman translation the image tests run containers with (tests/image/kubelet.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sriov_operator.install.objects import operator_deployment
from sriov_operator.install.values import default_values
from tests.image.kubelet import PodPlacement, UnsupportedPodSpecError, run_args

PLACEMENT = PodPlacement(
    pod_name="p", namespace="ns", node_name="worker-0", image_user=65532, volumes={"host": Path("/sim")}
)


def _args(pod_spec: dict[str, object], container: dict[str, object], **more: object) -> list[str]:
    placement = PodPlacement(**{**PLACEMENT.__dict__, **more})  # type: ignore[arg-type]
    return run_args(pod_spec, container, placement, "img")


def test_the_charts_operator_runs_as_the_image_user_read_only_without_capabilities() -> None:
    spec = operator_deployment(default_values("ns"))["spec"]["template"]["spec"]
    args = _args(spec, spec["containers"][0])
    assert args[args.index("--user") + 1] == "65532"
    assert "--read-only" in args and "--read-only-tmpfs=false" in args
    assert args[args.index("--cap-drop") + 1] == "all"
    assert "no-new-privileges" in args and "--privileged" not in args
    assert "SRIOV_OPERATOR_NAMESPACE=ns" in args and "SRIOV_OPERATOR_IDENTITY=p" in args
    assert args[-2:] == ["img", "operator"]


def test_a_privileged_root_container_with_the_host_mounted_as_the_daemon_set_says() -> None:
    container = {
        "name": "d",
        "command": ["sriov-operator", "daemon"],
        "securityContext": {"privileged": True, "runAsUser": 0},
        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "volumeMounts": [{"name": "host", "mountPath": "/host", "mountPropagation": "HostToContainer"}],
    }
    args = _args({"hostPID": True}, container)
    assert args[args.index("--user") + 1] == "0" and "--privileged" in args
    assert args[args.index("--pid") + 1] == "host"
    assert "NODE=worker-0" in args
    assert "/sim:/host:rw,rslave" in args
    assert json.loads(args[args.index("--entrypoint") + 1]) == ["sriov-operator", "daemon"]


def test_run_as_non_root_refuses_user_zero() -> None:
    with pytest.raises(UnsupportedPodSpecError, match="runAsNonRoot"):
        _args({"securityContext": {"runAsNonRoot": True}}, {"name": "c", "securityContext": {"runAsUser": 0}})


def test_a_volume_the_test_gave_no_directory_for_is_an_error() -> None:
    container = {"name": "c", "volumeMounts": [{"name": "tls", "mountPath": "/tls"}]}
    with pytest.raises(UnsupportedPodSpecError, match="'tls'"):
        _args({}, container)


def test_service_account_and_api_address_as_a_kubelet_provides_them() -> None:
    args = _args({}, {"name": "c"}, service_account=Path("/sa"), api_port=6443)
    assert "/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" in args
    assert "KUBERNETES_SERVICE_HOST=127.0.0.1" in args and "KUBERNETES_SERVICE_PORT=6443" in args
