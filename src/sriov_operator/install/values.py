"""The chart's values, their defaults and meaning, and the two ways objects read them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Protocol

from sriov_operator import __version__
from sriov_operator.api.constants import (
    DEFAULT_CONFIG_DAEMON_NODE_SELECTOR,
    DEFAULT_OPERATOR_NAMESPACE,
    DEFAULT_RESOURCE_PREFIX,
)
from sriov_operator.operator.workloads.settings import (
    DEFAULT_CNI_BIN_DIR,
    DEFAULT_DEVICE_PLUGIN_IMAGE,
    DEFAULT_IB_SRIOV_CNI_IMAGE,
    DEFAULT_METRICS_EXPORTER_IMAGE,
    DEFAULT_OVS_CNI_IMAGE,
    DEFAULT_SRIOV_CNI_IMAGE,
    OPERATOR_IMAGE_REPOSITORY,
)

CHART_NAME = "sriov-fdp-operator"


def version_tag() -> str:
    """This build's image tag: ``v<version>`` (a local build's ``+suffix`` dropped)."""
    return "v" + __version__.split("+", 1)[0]


@dataclass(frozen=True)
class Value:
    path: str  # dotted, as in values.yaml
    default: Any
    meaning: str


def value_table(version_tag: str) -> tuple[Value, ...]:
    """Every value of the chart; ``version_tag`` is the default image tag (this build's version)."""
    return (
        Value(
            "image.repository", OPERATOR_IMAGE_REPOSITORY, "image of the operator, config daemon and webhook"
        ),
        Value("image.tag", version_tag, "its tag (pinned: never `latest`)"),
        Value("image.pullPolicy", "IfNotPresent", "`imagePullPolicy` of every container the operator runs"),
        Value(
            "imagePullSecrets",
            [],
            "names of Secrets (in the release namespace) every pod pulls its images with",
        ),
        Value(
            "devicePluginImage", DEFAULT_DEVICE_PLUGIN_IMAGE, "image of the SR-IOV device plugin DaemonSet"
        ),
        Value(
            "metricsExporterImage",
            DEFAULT_METRICS_EXPORTER_IMAGE,
            "image of the per-VF metrics exporter (SriovOperatorConfig feature gate `metricsExporter`)",
        ),
        Value("cni.sriovImage", DEFAULT_SRIOV_CNI_IMAGE, "image the `sriov` CNI plugin is copied from"),
        Value(
            "cni.ibSriovImage",
            DEFAULT_IB_SRIOV_CNI_IMAGE,
            "image the `ib-sriov` CNI plugin is copied from (while a SriovIBNetwork exists)",
        ),
        Value(
            "cni.ovsImage",
            DEFAULT_OVS_CNI_IMAGE,
            "image the `ovs` CNI plugin is copied from (while an OVSNetwork exists)",
        ),
        Value("cni.binDir", DEFAULT_CNI_BIN_DIR, "the nodes' CNI binary directory the plugins are copied to"),
        Value("operator.replicas", 2, "operator pods; one leads (Lease), the others stand by"),
        Value("operator.logLevel", "INFO", "`DEBUG`, `INFO`, `WARNING` or `ERROR`"),
        Value("operator.logFormat", "json", "`json` or `text` (key=value)"),
        Value("operator.metricsPort", 8081, "port of `/healthz`, `/readyz` and `/metrics`"),
        Value("operator.resourcePrefix", DEFAULT_RESOURCE_PREFIX, "device-plugin resource prefix"),
        Value("operator.applyCRDs", True, "the operator applies its CRDs at start where they differ"),
        Value(
            "operator.extraEnv",
            {},
            "more `SRIOV_OPERATOR_*` settings of the operator, name: value (docs/settings.md)",
        ),
        Value(
            "operator.resources",
            {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "the operator container's resources",
        ),
        Value("operator.nodeSelector", {}, "nodeSelector of the operator pods"),
        Value(
            "operator.tolerations",
            [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
            "tolerations of the operator pods",
        ),
        Value(
            "operator.podSecurityContext",
            {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "the operator pod's securityContext",
        ),
        Value(
            "operator.securityContext",
            {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
            "the operator container's securityContext",
        ),
        Value("operatorConfig.create", True, "install the `default` SriovOperatorConfig"),
        Value(
            "operatorConfig.spec",
            {
                "enableInjector": False,
                "enableOperatorWebhook": True,
                "logLevel": 2,
                "disableDrain": False,
                "configDaemonNodeSelector": dict(DEFAULT_CONFIG_DAEMON_NODE_SELECTOR),
            },
            "its spec (docs/operator-config.md)",
        ),
        Value(
            "supportedNics.create", True, "install the `supported-nic-ids` ConfigMap with the default list"
        ),
        Value(
            "multus.installCRD",
            True,
            "install Multus's NetworkAttachmentDefinition CRD where the cluster has none (kept on uninstall)",
        ),
        Value("webhook.tlsMinVersion", "1.2", "the webhook's lowest TLS version: `1.2` or `1.3`"),
        Value(
            "webhook.tlsCiphers",
            "",
            "the webhook's TLS 1.2 cipher suites, OpenSSL names joined by `:` (empty: OpenSSL's defaults)",
        ),
        Value(
            "webhook.networkPolicy",
            True,
            "install a NetworkPolicy letting only the webhook's port reach the webhook pods",
        ),
        Value(
            "nodeScopePolicy.enabled",
            True,
            "install the config daemon's node-scope ValidatingAdmissionPolicy",
        ),
        Value("openshift.enabled", False, "grant the config daemon and device plugin the `privileged` SCC"),
    )


def nested(values: tuple[Value, ...]) -> dict[str, Any]:
    """The values as the nested mapping of values.yaml."""
    out: dict[str, Any] = {}
    for value in values:
        *parents, leaf = value.path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value.default
    return out


class Values(Protocol):
    """How an object reads a value: the value itself, or a template expression standing for it."""

    @property
    def namespace(self) -> Any: ...

    @property
    def image(self) -> Any: ...

    def text(self, path: str) -> Any:
        """A value written as a string (quoted)."""

    def number(self, path: str) -> Any: ...

    def block(self, path: str) -> Any:
        """A mapping or list, inserted whole."""

    def env(self, path: str) -> list[Any]:
        """The ``name: value`` mapping at ``path`` as container env entries."""

    def joined(self, path: str) -> Any:
        """The list of strings at ``path`` joined by commas (one env value)."""

    def names(self, path: str) -> Any:
        """The list of strings at ``path`` as ``[{name: ...}]`` (imagePullSecrets)."""


@dataclass(frozen=True)
class Defaults:
    """The values filled in (the kustomize base)."""

    values: dict[str, Any]
    namespace: str = DEFAULT_OPERATOR_NAMESPACE

    def _get(self, path: str) -> Any:
        node: Any = self.values
        for part in path.split("."):
            node = node[part]
        return node

    @property
    def image(self) -> str:
        return f"{self._get('image.repository')}:{self._get('image.tag')}"

    def text(self, path: str) -> str:
        value = self._get(path)
        return str(value).lower() if isinstance(value, bool) else str(value)

    def number(self, path: str) -> int:
        return int(self._get(path))

    def block(self, path: str) -> Any:
        return self._get(path)

    def env(self, path: str) -> list[Any]:
        return [{"name": name, "value": str(value)} for name, value in sorted(self._get(path).items())]

    def joined(self, path: str) -> str:
        return ",".join(self._get(path))

    def names(self, path: str) -> list[dict[str, str]]:
        return [{"name": name} for name in self._get(path)]


def default_values(namespace: str = DEFAULT_OPERATOR_NAMESPACE) -> Defaults:
    """The chart's defaults, this build's image tag, objects in ``namespace``."""
    return Defaults(nested(value_table(version_tag())), namespace)


@dataclass(frozen=True)
class Marker:
    """What ``HelmValues`` returns: a token in the dumped YAML, replaced by template text after."""

    token: str
    kind: str  # "inline", "block", "env" or "names"
    expression: str


@dataclass
class HelmValues:
    """Every value becomes a token; ``helm.template_text`` turns tokens into Go template."""

    markers: dict[str, Marker] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def _mark(self, kind: str, expression: str) -> str:
        token = f"__helm_value_{next(self._counter)}__"
        self.markers[token] = Marker(token, kind, expression)
        return token

    @property
    def namespace(self) -> str:
        return self._mark("inline", "{{ .Release.Namespace | quote }}")

    @property
    def image(self) -> str:
        return self._mark("inline", '{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}')

    def text(self, path: str) -> str:
        return self._mark("inline", f"{{{{ .Values.{path} | quote }}}}")

    def number(self, path: str) -> str:
        return self._mark("inline", f"{{{{ .Values.{path} }}}}")

    def block(self, path: str) -> str:
        return self._mark("block", f".Values.{path}")

    def env(self, path: str) -> list[Any]:
        return [self._mark("env", f".Values.{path}")]

    def joined(self, path: str) -> str:
        return self._mark("inline", f'{{{{ join "," .Values.{path} | quote }}}}')

    def names(self, path: str) -> str:
        return self._mark("names", f".Values.{path}")
