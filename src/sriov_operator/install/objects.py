"""Every object the install manifests hold, each described once.

The operator's own RBAC lives here. Kubernetes lets the operator grant only what it
holds, so its rules cover every rule of the config daemon's and the webhook's roles
(operator/workloads/render.py; an integration test runs the operator as this account).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from sriov_operator.api.constants import (
    API_VERSION,
    CONFIG_DAEMON_NAME,
    DEFAULT_OPERATOR_CONFIG_NAME,
    DEVICE_PLUGIN_NAME,
    SUPPORTED_NIC_CONFIGMAP,
    WEBHOOK_CONTAINER_PORT,
    WEBHOOK_SERVICE_NAME,
)
from sriov_operator.api.crds import all_crds
from sriov_operator.api.supported_nics import DEFAULT_SUPPORTED_NICS
from sriov_operator.install.values import Values, default_values

Object = dict[str, Any]

OPERATOR_NAME = "sriov-network-operator"
METRICS_SERVICE = "sriov-network-operator-metrics"
SCC_ROLE = "sriov-network-operator-privileged-scc"
LABELS = {"app.kubernetes.io/name": OPERATOR_NAME, "app.kubernetes.io/part-of": "sriov-fdp-operator"}
POLICY_FILE = "config-daemon-node-scope.yaml"
ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _rule(group: str, resources_: list[str], verbs: list[str], names: list[str] | None = None) -> Object:
    rule: Object = {"apiGroups": [group], "resources": resources_, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def cluster_rules() -> list[Object]:
    """What the operator does cluster-wide, one rule per reason."""
    return [
        # our API: policies, node states, networks, pools, the operator config
        _rule("sriovnetwork.openshift.io", ["*"], ALL_VERBS),
        _rule("sriovnetwork.openshift.io", ["*/status", "*/finalizers"], ["get", "update", "patch"]),
        # its own CRDs, applied at start when they differ (--apply-crds); only ours may be changed
        _rule("apiextensions.k8s.io", ["customresourcedefinitions"], ["create"]),
        _rule(
            "apiextensions.k8s.io",
            ["customresourcedefinitions"],
            ["get", "patch"],
            sorted(crd["metadata"]["name"] for crd in all_crds()),
        ),
        # nodes: device-plugin label, cordon/uncordon for drains
        _rule("", ["nodes"], ["get", "list", "watch", "patch", "update"]),
        # drains: list a node's pods, evict them (PDBs respected); delete only with --drain-force-past-pdb
        _rule("", ["pods"], ["get", "list", "watch", "delete"]),
        _rule("", ["pods/eviction"], ["create"]),
        _rule("policy", ["poddisruptionbudgets"], ["get", "list", "watch"]),
        _rule("", ["namespaces"], ["get", "list", "watch"]),
        # NetworkAttachmentDefinitions in users' namespaces
        _rule("k8s.cni.cncf.io", ["network-attachment-definitions"], ALL_VERBS),
        # the webhook's registrations
        _rule(
            "admissionregistration.k8s.io",
            ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
            ALL_VERBS,
        ),
        # the config daemon's and webhook's ClusterRoles and bindings
        _rule("rbac.authorization.k8s.io", ["clusterroles", "clusterrolebindings"], ALL_VERBS),
        _rule("events.k8s.io", ["events"], ["create", "patch"]),
        _rule("", ["events"], ["create", "patch"]),
    ]


def namespace_rules() -> list[Object]:
    """In the operator's namespace only: its workloads, their config and certificates, the leader Lease."""
    return [
        _rule("", ["configmaps", "secrets", "services", "serviceaccounts"], ALL_VERBS),
        _rule("apps", ["daemonsets", "deployments"], ALL_VERBS),
        _rule("rbac.authorization.k8s.io", ["roles", "rolebindings"], ALL_VERBS),
        _rule("coordination.k8s.io", ["leases"], ALL_VERBS),
        # the metrics exporter's, where the Prometheus operator is installed (metricsExporter gate)
        _rule("monitoring.coreos.com", ["servicemonitors"], ALL_VERBS),
    ]


def _meta(name: str, namespace: Any = None) -> Object:
    meta: Object = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(LABELS)
    return meta


def _service_account_subject(name: str, namespace: Any) -> Object:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def namespace_object(name: str) -> Object:
    """The operator's namespace; its pods (the config daemon) are privileged, Pod Security must allow it."""
    meta = _meta(name)
    meta["labels"] |= {
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "privileged",
        "pod-security.kubernetes.io/warn": "privileged",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def rbac(v: Values) -> list[Object]:
    rbac_api = "rbac.authorization.k8s.io/v1"
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "name": OPERATOR_NAME}
    subjects = [_service_account_subject(OPERATOR_NAME, v.namespace)]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(OPERATOR_NAME, v.namespace)},
        {
            "apiVersion": rbac_api,
            "kind": "ClusterRole",
            "metadata": _meta(OPERATOR_NAME),
            "rules": cluster_rules(),
        },
        {
            "apiVersion": rbac_api,
            "kind": "ClusterRoleBinding",
            "metadata": _meta(OPERATOR_NAME),
            "roleRef": {**role_ref, "kind": "ClusterRole"},
            "subjects": subjects,
        },
        {
            "apiVersion": rbac_api,
            "kind": "Role",
            "metadata": _meta(OPERATOR_NAME, v.namespace),
            "rules": namespace_rules(),
        },
        {
            "apiVersion": rbac_api,
            "kind": "RoleBinding",
            "metadata": _meta(OPERATOR_NAME, v.namespace),
            "roleRef": {**role_ref, "kind": "Role"},
            "subjects": subjects,
        },
    ]


def operator_rbac(namespace: str) -> list[Object]:
    """The operator's namespace and RBAC as installed, in ``namespace`` (for the sandbox)."""
    return [namespace_object(namespace), *rbac(default_values(namespace))]


def _field_env(name: str, field_path: str) -> Object:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def operator_env(v: Values) -> list[Any]:
    """The operator's settings (docs/settings.md) as its container's environment."""
    return [
        _field_env("SRIOV_OPERATOR_NAMESPACE", "metadata.namespace"),
        _field_env("SRIOV_OPERATOR_IDENTITY", "metadata.name"),
        {"name": "SRIOV_OPERATOR_LEADER_ELECT", "value": "true"},
        {"name": "SRIOV_OPERATOR_HEALTH_PORT", "value": v.text("operator.metricsPort")},
        {"name": "SRIOV_OPERATOR_LOG_LEVEL", "value": v.text("operator.logLevel")},
        {"name": "SRIOV_OPERATOR_LOG_FORMAT", "value": v.text("operator.logFormat")},
        {"name": "SRIOV_OPERATOR_RESOURCE_PREFIX", "value": v.text("operator.resourcePrefix")},
        {"name": "SRIOV_OPERATOR_APPLY_CRDS", "value": v.text("operator.applyCRDs")},
        # this Deployment and the ClusterRole own what the operator creates: uninstalling removes it
        {"name": "SRIOV_OPERATOR_UNINSTALL_WITH", "value": OPERATOR_NAME},
        {"name": "SRIOV_OPERATOR_OPERATOR_IMAGE", "value": v.image},
        {"name": "SRIOV_OPERATOR_DEVICE_PLUGIN_IMAGE", "value": v.text("devicePluginImage")},
        {"name": "SRIOV_OPERATOR_SRIOV_CNI_IMAGE", "value": v.text("cni.sriovImage")},
        {"name": "SRIOV_OPERATOR_IB_SRIOV_CNI_IMAGE", "value": v.text("cni.ibSriovImage")},
        {"name": "SRIOV_OPERATOR_OVS_CNI_IMAGE", "value": v.text("cni.ovsImage")},
        {"name": "SRIOV_OPERATOR_CNI_BIN_DIR", "value": v.text("cni.binDir")},
        {"name": "SRIOV_OPERATOR_METRICS_EXPORTER_IMAGE", "value": v.text("metricsExporterImage")},
        {"name": "SRIOV_OPERATOR_IMAGE_PULL_POLICY", "value": v.text("image.pullPolicy")},
        {"name": "SRIOV_OPERATOR_IMAGE_PULL_SECRETS", "value": v.joined("imagePullSecrets")},
        {"name": "SRIOV_OPERATOR_WEBHOOK_TLS_MIN_VERSION", "value": v.text("webhook.tlsMinVersion")},
        {"name": "SRIOV_OPERATOR_WEBHOOK_TLS_CIPHERS", "value": v.text("webhook.tlsCiphers")},
        *v.env("operator.extraEnv"),
    ]


def _probe(path: str, period: int, failures: int) -> Object:
    return {
        "httpGet": {"path": path, "port": "metrics"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def operator_deployment(v: Values) -> Object:
    selector = {"app.kubernetes.io/name": OPERATOR_NAME}
    container = {
        "name": "operator",
        "image": v.image,
        "imagePullPolicy": v.text("image.pullPolicy"),
        "args": ["operator"],
        "env": operator_env(v),
        "ports": [{"name": "metrics", "containerPort": v.number("operator.metricsPort"), "protocol": "TCP"}],
        # /readyz answers once the caches are synced, on the leader and on standbys alike
        "startupProbe": _probe("/readyz", 5, 60),
        "livenessProbe": _probe("/healthz", 10, 3),
        "readinessProbe": _probe("/readyz", 10, 3),
        "resources": v.block("operator.resources"),
        "securityContext": v.block("operator.securityContext"),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(OPERATOR_NAME, v.namespace),
        "spec": {
            "replicas": v.number("operator.replicas"),
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**LABELS, **selector}},
                "spec": {
                    "serviceAccountName": OPERATOR_NAME,
                    "imagePullSecrets": v.names("imagePullSecrets"),
                    "securityContext": v.block("operator.podSecurityContext"),
                    "nodeSelector": v.block("operator.nodeSelector"),
                    "tolerations": v.block("operator.tolerations"),
                    "terminationGracePeriodSeconds": 30,  # it releases its Lease on SIGTERM
                    "containers": [container],
                },
            },
        },
    }


def metrics_service(v: Values) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(METRICS_SERVICE, v.namespace),
        "spec": {
            "selector": {"app.kubernetes.io/name": OPERATOR_NAME},
            "ports": [{"name": "metrics", "port": v.number("operator.metricsPort"), "targetPort": "metrics"}],
        },
    }


def webhook_network_policy(v: Values) -> Object:
    """Only the webhook's HTTPS port reaches the webhook pods (the operator creates them, labelled
    ``app: sriov-operator-webhook``); the API server may call from anywhere, so no source is named."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(WEBHOOK_SERVICE_NAME, v.namespace),
        "spec": {
            "podSelector": {"matchLabels": {"app": WEBHOOK_SERVICE_NAME}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": WEBHOOK_CONTAINER_PORT}]}],
        },
    }


HELM_TEST_NAME = f"{OPERATOR_NAME}-test"
READY_CHECK = (
    "import sys, urllib.request\n"
    "with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:\n"
    "    print(answer.status, answer.read().decode())\n"
)


def helm_test_pod(v: Values) -> Object:
    """``helm test``: from the operator's image, the leader's ``/readyz`` through the metrics Service."""
    url = f"http://{METRICS_SERVICE}:{v.number('operator.metricsPort')}/readyz"
    meta = _meta(HELM_TEST_NAME, v.namespace)
    meta["annotations"] = {
        "helm.sh/hook": "test",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
    }
    container = {
        "name": "operator-ready",
        "image": v.image,
        "imagePullPolicy": v.text("image.pullPolicy"),
        "command": ["python", "-c", READY_CHECK, url],
        "securityContext": v.block("operator.securityContext"),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "restartPolicy": "Never",
            "imagePullSecrets": v.names("imagePullSecrets"),
            "securityContext": v.block("operator.podSecurityContext"),
            "containers": [container],
        },
    }


def supported_nics_configmap(v: Values) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(SUPPORTED_NIC_CONFIGMAP, v.namespace),
        "data": dict(DEFAULT_SUPPORTED_NICS),
    }


def default_operator_config(v: Values) -> Object:
    return {
        "apiVersion": API_VERSION,
        "kind": "SriovOperatorConfig",
        "metadata": _meta(DEFAULT_OPERATOR_CONFIG_NAME, v.namespace),
        "spec": v.block("operatorConfig.spec"),
    }


def openshift_scc(v: Values) -> list[Object]:
    """On OpenShift, pods need an SCC: the config daemon and device plugin run privileged."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(SCC_ROLE),
            "rules": [
                _rule("security.openshift.io", ["securitycontextconstraints"], ["use"], ["privileged"])
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(SCC_ROLE),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": SCC_ROLE},
            "subjects": [
                _service_account_subject(CONFIG_DAEMON_NAME, v.namespace),
                _service_account_subject(DEVICE_PLUGIN_NAME, v.namespace),
            ],
        },
    ]


def node_scope_policy_text() -> str:
    """The config daemon's ValidatingAdmissionPolicy and its binding, as written (with its comments)."""
    return (resources.files("sriov_operator.install") / POLICY_FILE).read_text()


def node_scope_policy() -> list[Object]:
    return [doc for doc in yaml.safe_load_all(node_scope_policy_text()) if doc]
