"""What a kubelet would run for a pod's container, as ``podman run`` arguments (pure).

The tests take the containers from the objects users install (the chart's
operator Deployment) and from those the operator renders (the config-daemon
DaemonSet, the webhook Deployment), and run them from the image with their
securityContext, env, command and mounts. The differences from a kubelet, all
forced by the test machine, are explicit arguments: the network is always the
host's (there is no pod network), volumes map to directories the test chose,
and the service-account token and API address are the test's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Object = dict[str, Any]
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PROPAGATION = {"HostToContainer": "rslave", "Bidirectional": "rshared", "None": "rprivate"}


class UnsupportedPodSpecError(ValueError):
    """The pod spec asks for something this translation does not do; the message names the field."""


@dataclass(frozen=True)
class PodPlacement:
    """What the kubelet and the API server would supply for one pod."""

    pod_name: str
    namespace: str
    node_name: str
    image_user: int  # the image's USER, when no securityContext sets runAsUser
    volumes: Mapping[str, Path] = field(default_factory=dict)  # pod volume name -> host directory
    service_account: Path | None = None  # a directory with token, ca.crt and namespace
    api_host: str = "127.0.0.1"
    api_port: int = 443
    env_overrides: Mapping[str, str] = field(default_factory=dict)  # e.g. a free port on the host network


def _field_value(path: str, placement: PodPlacement) -> str:
    values = {
        "spec.nodeName": placement.node_name,
        "metadata.name": placement.pod_name,
        "metadata.namespace": placement.namespace,
    }
    if path not in values:
        raise UnsupportedPodSpecError(f"env valueFrom.fieldRef.fieldPath {path!r}: only {sorted(values)}")
    return values[path]


def container_env(container: Object, placement: PodPlacement) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "fieldRef" in (item.get("valueFrom") or {}):
            env[item["name"]] = _field_value(item["valueFrom"]["fieldRef"]["fieldPath"], placement)
        else:
            raise UnsupportedPodSpecError(f"env {item['name']}: only value and valueFrom.fieldRef")
    if placement.service_account is not None:
        env["KUBERNETES_SERVICE_HOST"] = placement.api_host
        env["KUBERNETES_SERVICE_PORT"] = str(placement.api_port)
    return {**env, **placement.env_overrides}


def security_args(pod_spec: Object, container: Object, placement: PodPlacement) -> list[str]:
    pod_context = pod_spec.get("securityContext") or {}
    context = container.get("securityContext") or {}
    user = context.get("runAsUser", pod_context.get("runAsUser", placement.image_user))
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot", False))
    if non_root and user == 0:
        raise UnsupportedPodSpecError("securityContext.runAsNonRoot: true, but the container would run as 0")
    args = ["--user", str(user)]
    if context.get("privileged"):
        args.append("--privileged")
    if context.get("readOnlyRootFilesystem"):
        args += ["--read-only", "--read-only-tmpfs=false"]  # a kubelet mounts no tmpfs on /tmp
    if context.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    capabilities = context.get("capabilities") or {}
    args += [arg for cap in capabilities.get("drop") or [] for arg in ("--cap-drop", cap.lower())]
    args += [arg for cap in capabilities.get("add") or [] for arg in ("--cap-add", cap.lower())]
    seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
    if seccomp not in (None, "RuntimeDefault"):
        raise UnsupportedPodSpecError(f"seccompProfile.type {seccomp!r}: only RuntimeDefault")
    return args


def mount_args(container: Object, placement: PodPlacement) -> list[str]:
    args = []
    for mount in container.get("volumeMounts") or []:
        name = mount["name"]
        if name not in placement.volumes:
            raise UnsupportedPodSpecError(f"volumeMounts {name!r}: the test gave no directory for it")
        options = ["ro"] if mount.get("readOnly") else ["rw"]
        if "mountPropagation" in mount:
            options.append(PROPAGATION[mount["mountPropagation"]])
        args += ["--volume", f"{placement.volumes[name]}:{mount['mountPath']}:{','.join(options)}"]
    if placement.service_account is not None:
        args += ["--volume", f"{placement.service_account}:{SERVICE_ACCOUNT_DIR}:ro"]
    return args


def run_args(pod_spec: Object, container: Object, placement: PodPlacement, image: str) -> list[str]:
    """``podman run`` arguments (after ``run``) for ``container`` of ``pod_spec``, from ``image``."""
    args = ["--rm", "--name", f"{placement.pod_name}-{container['name']}", "--network", "host"]
    if pod_spec.get("hostPID"):
        args += ["--pid", "host"]
    args += security_args(pod_spec, container, placement)
    for name, value in container_env(container, placement).items():
        args += ["--env", f"{name}={value}"]
    args += mount_args(container, placement)
    if container.get("command"):
        args += ["--entrypoint", json.dumps(container["command"])]
    return [*args, image, *(container.get("args") or [])]
