"""SriovOperatorConfig -> the objects that run the config daemon, device plugin and webhook.

Pure: ``render_workloads`` returns every object to apply (server-side) and the
identity of every object a disabled flag turns off, so the controller deletes
them. Each component gets its own ServiceAccount and the least RBAC it needs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sriov_operator.api.constants import (
    CONFIG_DAEMON_NAME,
    DEVICE_PLUGIN_ENABLED,
    DEVICE_PLUGIN_HOST_DIR,
    DEVICE_PLUGIN_LABEL,
    DEVICE_PLUGIN_NAME,
    FIELD_MANAGER,
    GROUP,
    WEBHOOK_CERT_DIR,
    WEBHOOK_CONTAINER_PORT,
    WEBHOOK_SERVICE_NAME,
    WEBHOOK_SERVICE_PORT,
    WEBHOOK_SERVING_SECRET,
)
from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.engine.selection import config_daemon_node_selector
from sriov_operator.operator.workloads.settings import WorkloadSettings

Object = dict[str, Any]

PART_OF = "sriov-network-operator"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
COMPONENT_LABEL = "app.kubernetes.io/component"
HOST_MOUNT = "/host"
DEVICE_PLUGIN_CONFIG_FILE = f"{DEVICE_PLUGIN_HOST_DIR}/config.json"
LOG_LEVELS = {0: "INFO", 1: "DEBUG", 2: "DEBUG"}
"""SriovOperatorConfig ``logLevel`` (0 basic … 2 everything) -> our processes' ``--log-level``."""


def operator_log_level(spec: Mapping[str, Any]) -> str | None:
    """The level the operator itself logs at for this config spec; None when it sets none (or a bad
    one: the config's Ready says why), so the ``--log-level`` flag stands."""
    value = spec.get("logLevel")
    return LOG_LEVELS.get(value) if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Workloads:
    apply: list[Object]
    """Objects to server-side apply, in dependency order (accounts and RBAC before pods)."""
    delete: list[Object] = field(default_factory=list)
    """``apiVersion``/``kind``/``metadata`` of objects a disabled flag turns off."""


def _labels(component: str) -> dict[str, str]:
    return {
        "app": component,
        COMPONENT_LABEL: component,
        "app.kubernetes.io/part-of": PART_OF,
        MANAGED_BY_LABEL: FIELD_MANAGER,
    }


def _meta(name: str, component: str, namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": _labels(component)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _object(api_version: str, kind: str, name: str, component: str, namespace: str | None) -> Object:
    return {"apiVersion": api_version, "kind": kind, "metadata": _meta(name, component, namespace)}


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


READ = ["get", "list", "watch"]


def _access(name: str, namespace: str, cluster_rules: list[Any], namespace_rules: list[Any]) -> list[Object]:
    """A ServiceAccount, and its ClusterRole/Role with bindings (each only when it has rules)."""
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    objects = [_object("v1", "ServiceAccount", name, name, namespace)]
    rbac = "rbac.authorization.k8s.io/v1"
    for kind, rules, scope in (("ClusterRole", cluster_rules, None), ("Role", namespace_rules, namespace)):
        if not rules:
            continue
        role = _object(rbac, kind, name, name, scope)
        role["rules"] = rules
        binding = _object(rbac, f"{kind}Binding", name, name, scope)
        binding["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}
        binding["subjects"] = subject
        objects += [role, binding]
    return objects


def _env(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in values.items()]


NODE_NAME_ENV = {
    "name": "SRIOV_OPERATOR_NODE_NAME",
    "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
}


def _daemon_set(name: str, settings: WorkloadSettings, pod_spec: dict[str, Any]) -> Object:
    daemon_set = _object("apps/v1", "DaemonSet", name, name, settings.namespace)
    daemon_set["spec"] = {
        "selector": {"matchLabels": {"app": name}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "33%"}},
        "template": {
            "metadata": {"labels": _labels(name)},
            "spec": {
                "serviceAccountName": name,
                "hostNetwork": True,
                "dnsPolicy": "ClusterFirstWithHostNet",
                "priorityClassName": "system-node-critical",
                "tolerations": [{"operator": "Exists"}],
                **_pull_secrets(settings),
                **pod_spec,
            },
        },
    }
    return daemon_set


def _pull_secrets(settings: WorkloadSettings) -> dict[str, Any]:
    if not settings.image_pull_secrets:
        return {}
    return {"imagePullSecrets": [{"name": name} for name in settings.image_pull_secrets]}


def _host_path(name: str, path: str, type_: str = "Directory") -> dict[str, Any]:
    return {"name": name, "hostPath": {"path": path, "type": type_}}


CNI_MOUNT = "/host-cni-bin"
CNI_PLUGINS = ("sriov", "ib-sriov", "ovs")
"""The CNI plugins our NADs name (``type``), in the order their init containers run."""


def cni_plugins_used(ib_networks: int, ovs_networks: int) -> tuple[str, ...]:
    """sriov always; ib-sriov and ovs only while a SriovIBNetwork / OVSNetwork exists."""
    used = {"sriov", *(["ib-sriov"] if ib_networks else []), *(["ovs"] if ovs_networks else [])}
    return tuple(plugin for plugin in CNI_PLUGINS if plugin in used)


def _cni_installer(plugin: str, settings: WorkloadSettings) -> Object:
    """An init container copying one CNI binary from its image into the host's CNI directory.

    Copied to a temporary name and renamed, so a pod being set up never runs a half-written binary.
    """
    image, source = {
        "sriov": (settings.sriov_cni_image, "/usr/bin/sriov"),
        "ib-sriov": (settings.ib_sriov_cni_image, "/usr/bin/ib-sriov"),
        "ovs": (settings.ovs_cni_image, "/ovs"),
    }[plugin]
    target = f"{CNI_MOUNT}/{plugin}"
    return {
        "name": f"{plugin}-cni",
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["/bin/sh", "-c", f"cp -f {source} {target}.new && mv -f {target}.new {target}"],
        "securityContext": {"privileged": True},
        "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}},
        "volumeMounts": [{"name": "cni-bin", "mountPath": CNI_MOUNT}],
    }


def config_daemon(
    config: SriovOperatorConfig, settings: WorkloadSettings, cni_plugins: Collection[str] = ("sriov",)
) -> list[Object]:
    namespace = settings.namespace
    # Only settings `sriov-operator daemon` has flags for (docs/operator-config.md says where the
    # config's other fields go).
    ours = {
        "SRIOV_OPERATOR_NAMESPACE": namespace,
        "SRIOV_OPERATOR_HOST_ROOT": HOST_MOUNT,
        "SRIOV_OPERATOR_LOG_LEVEL": LOG_LEVELS[config.spec.log_level or 0],
        # the mellanoxFirmwareReset feature gate (off unless set: mstfwreset reloads a card's firmware)
        "SRIOV_OPERATOR_MELLANOX_FIRMWARE_RESET": str(_gate(config, MELLANOX_FIRMWARE_RESET_GATE)).lower(),
    }
    # The user's configDaemonEnvVars come last and win: they asked for them explicitly.
    env = {**ours, **(config.spec.config_daemon_env_vars or {})}
    container = {
        "name": CONFIG_DAEMON_NAME,
        "image": settings.daemon_image,
        "imagePullPolicy": settings.image_pull_policy,
        # hostNetwork: the pod's network namespace is the host's, where links are changed.
        "command": ["sriov-operator", "daemon", "--netns", "current"],
        # root: the image runs as a non-root user (Containerfile); the daemon writes sysfs, loads modules
        "securityContext": {"privileged": True, "runAsUser": 0},
        "env": [NODE_NAME_ENV, *_env(env)],
        "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}},
        "volumeMounts": [{"name": "host", "mountPath": HOST_MOUNT, "mountPropagation": "HostToContainer"}],
    }
    pod_spec = {
        "hostPID": True,
        "nodeSelector": config_daemon_node_selector(config),
        # upstream's way: the CNI plugins our NADs name are copied onto every config-daemon node
        "initContainers": [
            _cni_installer(plugin, settings) for plugin in CNI_PLUGINS if plugin in cni_plugins
        ],
        "containers": [container],
        "volumes": [
            _host_path("host", "/"),
            _host_path("cni-bin", settings.cni_bin_dir, "DirectoryOrCreate"),
        ],
    }
    node_state_rules = [
        _rule([GROUP], ["sriovnetworknodestates"], [*READ, "patch"]),
        _rule([GROUP], ["sriovnetworknodestates/status"], ["get", "patch", "update"]),
        _rule([GROUP], ["sriovoperatorconfigs"], READ),
        _rule([""], ["configmaps"], [*READ, "patch"]),
        _rule([""], ["pods"], ["list", "watch", "delete"]),
        # Events only in the operator namespace (about its NodeState; the node-scope policy checks that)
        # (written through the core API, so they carry lastTimestamp: runtime/events.py)
        _rule([""], ["events"], ["create", "patch"]),
    ]
    cluster_rules = [_rule([""], ["nodes"], [*READ, "patch"])]
    access = _access(CONFIG_DAEMON_NAME, namespace, cluster_rules, node_state_rules)
    return [*access, _daemon_set(CONFIG_DAEMON_NAME, settings, pod_spec)]


def device_plugin(config: SriovOperatorConfig, settings: WorkloadSettings) -> list[Object]:
    """The device plugin waits for the config file its node's daemon hands over (docs/operator.md)."""
    args = ["--log-dir=sriovdp", "--log-level=10", f"--resource-prefix={settings.resource_prefix}"]
    if config.spec.use_cdi:
        args.append("--use-cdi")
    wait_then_run = (
        'while [ ! -f "$CONFIG_FILE" ]; do sleep 2; done; '
        'exec /usr/bin/sriovdp --config-file="$CONFIG_FILE" "$@"'
    )
    mounts = {
        "devicesock": "/var/lib/kubelet/device-plugins",
        "plugins-registry": "/var/lib/kubelet/plugins_registry",
        "device-info": "/var/run/k8s.cni.cncf.io/devinfo/dp",
        "log": "/var/log",
        "config": DEVICE_PLUGIN_HOST_DIR,
    }
    if config.spec.use_cdi:
        mounts["cdi"] = "/var/run/cdi"
    container = {
        "name": DEVICE_PLUGIN_NAME,
        "image": settings.device_plugin_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["/bin/sh", "-c", wait_then_run, "sriovdp", *args],
        "securityContext": {"privileged": True},
        "env": [NODE_NAME_ENV, {"name": "CONFIG_FILE", "value": DEVICE_PLUGIN_CONFIG_FILE}],
        "resources": {"requests": {"cpu": "10m", "memory": "50Mi"}},
        "volumeMounts": [
            {"name": name, "mountPath": path, **({"readOnly": True} if name == "config" else {})}
            for name, path in mounts.items()
        ],
    }
    pod_spec = {
        "nodeSelector": {DEVICE_PLUGIN_LABEL: DEVICE_PLUGIN_ENABLED},
        "containers": [container],
        "volumes": [_host_path(name, path, "DirectoryOrCreate") for name, path in mounts.items()],
    }
    # The device plugin talks to the kubelet over its socket, never to the API server.
    access = _access(DEVICE_PLUGIN_NAME, settings.namespace, [], [])
    return [*access, _daemon_set(DEVICE_PLUGIN_NAME, settings, pod_spec)]


def webhook(config: SriovOperatorConfig, settings: WorkloadSettings) -> list[Object]:
    namespace = settings.namespace
    env = {
        "SRIOV_OPERATOR_NAMESPACE": namespace,
        "SRIOV_OPERATOR_LOG_LEVEL": LOG_LEVELS[config.spec.log_level or 0],
        "SRIOV_OPERATOR_RESOURCE_PREFIX": settings.resource_prefix,
        "SRIOV_OPERATOR_TLS_CERT": f"{WEBHOOK_CERT_DIR}/tls.crt",
        "SRIOV_OPERATOR_TLS_KEY": f"{WEBHOOK_CERT_DIR}/tls.key",
        "SRIOV_OPERATOR_TLS_MIN_VERSION": settings.webhook_tls_min_version,
    }
    if settings.webhook_tls_ciphers:
        env["SRIOV_OPERATOR_TLS_CIPHERS"] = settings.webhook_tls_ciphers
    container = {
        "name": WEBHOOK_SERVICE_NAME,
        "image": settings.daemon_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["sriov-operator", "webhook"],
        "ports": [{"name": "webhook", "containerPort": WEBHOOK_CONTAINER_PORT}],
        "env": _env(env),
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tls", "mountPath": WEBHOOK_CERT_DIR, "readOnly": True}],
    }
    deployment = _object("apps/v1", "Deployment", WEBHOOK_SERVICE_NAME, WEBHOOK_SERVICE_NAME, namespace)
    deployment["spec"] = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": WEBHOOK_SERVICE_NAME}},
        "template": {
            "metadata": {"labels": _labels(WEBHOOK_SERVICE_NAME)},
            "spec": {
                "serviceAccountName": WEBHOOK_SERVICE_NAME,
                **_pull_secrets(settings),
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534},
                "containers": [container],
                # The Secret is written by the webhook's certificate controller; until then the pod waits.
                "volumes": [{"name": "tls", "secret": {"secretName": WEBHOOK_SERVING_SECRET}}],
            },
        },
    }
    service = _object("v1", "Service", WEBHOOK_SERVICE_NAME, WEBHOOK_SERVICE_NAME, namespace)
    service["spec"] = {
        "selector": {"app": WEBHOOK_SERVICE_NAME},
        "ports": [{"name": "webhook", "port": WEBHOOK_SERVICE_PORT, "targetPort": WEBHOOK_CONTAINER_PORT}],
    }
    # What the webhook's informers read (webhook/cache.py): without it their caches never sync.
    namespace_rules = [
        _rule([GROUP], ["sriovnetworknodepolicies", "sriovnetworknodestates"], READ),
        _rule([GROUP], ["sriovnetworkpoolconfigs", "sriovoperatorconfigs"], READ),
        _rule([""], ["configmaps"], READ),
        _rule([""], ["secrets"], READ),
    ]
    cluster_rules = [
        _rule([""], ["nodes"], READ),
        _rule([GROUP], ["sriovnetworks", "sriovibnetworks", "ovsnetworks"], READ),
        _rule(["k8s.cni.cncf.io"], ["network-attachment-definitions"], READ),
    ]
    return [*_access(WEBHOOK_SERVICE_NAME, namespace, cluster_rules, namespace_rules), deployment, service]


METRICS_EXPORTER_NAME = "sriov-network-metrics-exporter"
METRICS_EXPORTER_GATE = "metricsExporter"
MELLANOX_FIRMWARE_RESET_GATE = "mellanoxFirmwareReset"
METRICS_PORT = 9110
METRICS_PORT_NAME = "sriov-network-metrics"
"""The Service's port, as upstream names it (a ServiceMonitor of your own may refer to it)."""
METRICS_CONTAINER_PORT_NAME = "vf-metrics"  # a container port's name has at most 15 characters
KUBELET_POD_RESOURCES = "/var/lib/kubelet/pod-resources"


def _gate(config: SriovOperatorConfig, name: str) -> bool:
    return bool((config.spec.feature_gates or {}).get(name, False))


def metrics_exporter_enabled(config: SriovOperatorConfig) -> bool:
    return _gate(config, METRICS_EXPORTER_GATE)


def metrics_exporter(settings: WorkloadSettings, service_monitors: bool) -> list[Object]:
    """Upstream's per-VF counters on every node the operator configured, a Service in front of them,
    and a Prometheus-operator ServiceMonitor when ``service_monitors`` (its CRD is served).

    Host network: the netlink collector reads the VF counters of the host's PFs. It reads sysfs and
    the kubelet's pod-resources socket (which pod holds which VF), both read-only, and nothing of the
    API server, so its account has no roles.
    """
    namespace = settings.namespace
    container = {
        "name": METRICS_EXPORTER_NAME,
        "image": settings.metrics_exporter_image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": [
            f"--path.sysbuspci={HOST_MOUNT}/sys/bus/pci/devices",
            f"--path.sysclassnet={HOST_MOUNT}/sys/class/net/",
            f"--path.kubeletsocket={KUBELET_POD_RESOURCES}/kubelet.sock",
            "--collector.kubepoddevice=true",
            f"--web.listen-address=:{METRICS_PORT}",
        ],
        "ports": [{"name": METRICS_CONTAINER_PORT_NAME, "containerPort": METRICS_PORT}],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "sys", "mountPath": f"{HOST_MOUNT}/sys", "readOnly": True},
            {"name": "pod-resources", "mountPath": KUBELET_POD_RESOURCES, "readOnly": True},
        ],
    }
    pod_spec = {
        "nodeSelector": {DEVICE_PLUGIN_LABEL: DEVICE_PLUGIN_ENABLED},
        "containers": [container],
        "volumes": [_host_path("sys", "/sys"), _host_path("pod-resources", KUBELET_POD_RESOURCES)],
    }
    service = _object("v1", "Service", METRICS_EXPORTER_NAME, METRICS_EXPORTER_NAME, namespace)
    service["spec"] = {
        "selector": {"app": METRICS_EXPORTER_NAME},
        "ports": [{"name": METRICS_PORT_NAME, "port": METRICS_PORT, "targetPort": METRICS_PORT}],
    }
    objects = [
        *_access(METRICS_EXPORTER_NAME, namespace, [], []),
        _daemon_set(METRICS_EXPORTER_NAME, settings, pod_spec),
        service,
    ]
    if service_monitors:
        objects.append(_service_monitor(namespace))
    return objects


def _service_monitor(namespace: str) -> Object:
    """Prometheus scrapes every exporter pod, its samples labelled with the node they come from."""
    monitor = _object(
        "monitoring.coreos.com/v1", "ServiceMonitor", METRICS_EXPORTER_NAME, METRICS_EXPORTER_NAME, namespace
    )
    node_label = {
        "action": "replace",
        "sourceLabels": ["__meta_kubernetes_endpoint_node_name"],
        "targetLabel": "node",
    }
    monitor["spec"] = {
        "selector": {"matchLabels": {"app": METRICS_EXPORTER_NAME}},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [
            {
                "port": METRICS_PORT_NAME,
                "interval": "30s",
                "scheme": "http",
                "honorLabels": True,
                "relabelings": [node_label],
            }
        ],
    }
    return monitor


def _identity(obj: Object) -> Object:
    meta = {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace")}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta}


def webhook_enabled(config: SriovOperatorConfig) -> bool:
    return config.spec.enable_operator_webhook or config.spec.enable_injector


def render_workloads(
    config: SriovOperatorConfig,
    settings: WorkloadSettings,
    cni_plugins: Collection[str] = ("sriov",),
    service_monitors: bool = False,
) -> Workloads:
    """``cni_plugins``: the CNI plugins the config daemon installs (`cni_plugins_used`);
    ``service_monitors``: the API server serves ``monitoring.coreos.com/v1`` ServiceMonitors."""
    apply = config_daemon(config, settings, cni_plugins) + device_plugin(config, settings)
    delete: list[Object] = []
    for enabled, objects in (
        (webhook_enabled(config), webhook(config, settings)),
        (metrics_exporter_enabled(config), metrics_exporter(settings, service_monitors)),
    ):
        if enabled:
            apply += objects
        else:
            delete += [_identity(o) for o in objects]
    return Workloads(apply=apply, delete=delete)
