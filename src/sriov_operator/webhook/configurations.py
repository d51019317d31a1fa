"""The Validating/MutatingWebhookConfigurations, rendered from the default SriovOperatorConfig (pure).

- ``enableOperatorWebhook`` → ``sriov-operator-webhook-config`` (validating: our
  six user-facing kinds; mutating: policy defaults);
- ``enableInjector`` → ``network-resources-injector-config`` (mutating Pods), with a
  ``matchCondition`` so pods without the networks annotation never reach the
  webhook, and a ``namespaceSelector`` leaving out the operator's namespace (the
  webhook's own pods must start while the webhook is down).

failurePolicy: ``Fail`` for both unless the SriovOperatorConfig's annotations
``sriovnetwork.openshift.io/webhook-failure-policy`` /
``sriovnetwork.openshift.io/injector-failure-policy`` say ``Ignore``.  An update
of the SriovOperatorConfig that sets ``webhook-failure-policy: Ignore`` and leaves
its spec alone skips the validating webhook (a ``matchCondition``), so the switch
works while the webhook is down.
The caBundle is left out where someone else injects it (see
:func:`injects_own_ca_bundle`), so server-side apply never overwrites theirs.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sriov_operator.api.constants import (
    EXTERNAL_CA_BUNDLE_ANNOTATIONS,
    GROUP,
    INJECTOR_FAILURE_POLICY_ANNOTATION,
    INJECTOR_WEBHOOK_CONFIG_NAME,
    OPERATOR_WEBHOOK_CONFIG_NAME,
    POD_NETWORKS_ANNOTATION,
    VERSION,
    WEBHOOK_FAILURE_POLICY_ANNOTATION,
    WEBHOOK_SERVICE_NAME,
    WEBHOOK_SERVICE_PORT,
)
from sriov_operator.api.models import (
    OVSNetwork,
    SriovIBNetwork,
    SriovNetwork,
    SriovNetworkNodePolicy,
    SriovNetworkPoolConfig,
    SriovOperatorConfig,
)
from sriov_operator.webhook.server import MUTATE_PATH, PODS_PATH, VALIDATE_PATH

ConfigKind = Literal["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]
FAILURE_POLICIES = ("Fail", "Ignore")
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "sriov-fdp-operator"
VALIDATED_PLURALS = tuple(
    kind.PLURAL
    for kind in (
        SriovNetworkNodePolicy,
        SriovOperatorConfig,
        SriovNetworkPoolConfig,
        SriovNetwork,
        SriovIBNetwork,
        OVSNetwork,
    )
)
# The escape hatch: with the webhook down and failurePolicy Fail, setting the failure-policy
# annotation to Ignore (nothing else changed) must not need the webhook.
ESCAPE_HATCH_EXPRESSION = (
    f"!(request.resource.resource == '{SriovOperatorConfig.PLURAL}' && request.operation == 'UPDATE'"
    f" && has(object.metadata.annotations)"
    f" && '{WEBHOOK_FAILURE_POLICY_ANNOTATION}' in object.metadata.annotations"
    f" && object.metadata.annotations['{WEBHOOK_FAILURE_POLICY_ANNOTATION}'] == 'Ignore'"
    " && has(object.spec) == has(oldObject.spec) && (!has(object.spec) || object.spec == oldObject.spec))"
)
HAS_NETWORKS_EXPRESSION = (
    f"has(object.metadata.annotations) && '{POD_NETWORKS_ANNOTATION}' in object.metadata.annotations"
)


@dataclass(frozen=True)
class ConfigurationSettings:
    operator_namespace: str
    url: str | None = None  # base URL instead of the Service (a webhook outside the cluster, tests)
    service_name: str = WEBHOOK_SERVICE_NAME
    service_port: int = WEBHOOK_SERVICE_PORT
    timeout_seconds: int = 10


@dataclass(frozen=True)
class DesiredConfiguration:
    kind: ConfigKind
    name: str
    body: dict[str, Any] | None  # None: must not exist


def _client_config(settings: ConfigurationSettings, path: str, ca_bundle: bytes | None) -> dict[str, Any]:
    config: dict[str, Any]
    if settings.url:
        config = {"url": settings.url.rstrip("/") + path}
    else:
        config = {
            "service": {
                "namespace": settings.operator_namespace,
                "name": settings.service_name,
                "path": path,
                "port": settings.service_port,
            }
        }
    if ca_bundle is not None:
        config["caBundle"] = base64.b64encode(ca_bundle).decode()
    return config


def _failure_policy(config: Mapping[str, Any], annotation: str) -> str:
    annotations = (config.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(annotation)
    return value if value in FAILURE_POLICIES else "Fail"


def _webhook(
    name: str,
    path: str,
    rules: list[dict[str, Any]],
    *,
    failure_policy: str,
    settings: ConfigurationSettings,
    ca_bundle: bytes | None,
) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": _client_config(settings, path, ca_bundle),
        "rules": rules,
        "failurePolicy": failure_policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": settings.timeout_seconds,
    }


def _object(kind: ConfigKind, name: str, webhooks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
        "webhooks": webhooks,
    }


def _custom_resource_rules(plurals: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "apiGroups": [GROUP],
            "apiVersions": [VERSION],
            "operations": ["CREATE", "UPDATE"],
            "resources": list(plurals),
            "scope": "Namespaced",
        }
    ]


CONFIGURATION_KEYS: tuple[tuple[ConfigKind, str], ...] = (
    ("ValidatingWebhookConfiguration", OPERATOR_WEBHOOK_CONFIG_NAME),
    ("MutatingWebhookConfiguration", OPERATOR_WEBHOOK_CONFIG_NAME),
    ("MutatingWebhookConfiguration", INJECTOR_WEBHOOK_CONFIG_NAME),
)


def contains(live: Any, desired: Any) -> bool:
    """Does ``live`` already hold everything ``desired`` sets? (the API server adds defaults of its own)."""
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(
            key in live and contains(live[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    return bool(live == desired)


def injects_own_ca_bundle(live: Mapping[str, Any] | None) -> bool:
    """True unless the live configuration carries an annotation saying someone else injects the caBundle."""
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    return not any(key in annotations for key in EXTERNAL_CA_BUNDLE_ANNOTATIONS)


def _injector_webhook(
    failure_policy: str, settings: ConfigurationSettings, ca_bundle: bytes | None
) -> dict[str, Any]:
    pods = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
    webhook = _webhook(
        f"network-resources-injector.{GROUP}",
        PODS_PATH,
        [{**pods, "scope": "Namespaced"}],
        failure_policy=failure_policy,
        settings=settings,
        ca_bundle=ca_bundle,
    )
    not_ours = {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": [settings.operator_namespace],
    }
    webhook["namespaceSelector"] = {"matchExpressions": [not_ours]}
    webhook["matchConditions"] = [{"name": "has-networks-annotation", "expression": HAS_NETWORKS_EXPRESSION}]
    return webhook


def render_configurations(
    operator_config: Mapping[str, Any] | None,
    settings: ConfigurationSettings,
    ca_bundle_for: Mapping[tuple[ConfigKind, str], bytes | None],
) -> list[DesiredConfiguration]:
    """The three configurations (body None where disabled); ``ca_bundle_for`` None: leave caBundle out."""
    config = operator_config or {}
    spec = config.get("spec") or {}
    policy = _failure_policy(config, WEBHOOK_FAILURE_POLICY_ANNOTATION)
    validating: ConfigKind = "ValidatingWebhookConfiguration"
    mutating: ConfigKind = "MutatingWebhookConfiguration"
    operator_name, injector_name = OPERATOR_WEBHOOK_CONFIG_NAME, INJECTOR_WEBHOOK_CONFIG_NAME
    validating_webhook = _webhook(
        f"operator-webhook.{GROUP}",
        VALIDATE_PATH,
        _custom_resource_rules(VALIDATED_PLURALS),
        failure_policy=policy,
        settings=settings,
        ca_bundle=ca_bundle_for.get((validating, operator_name)),
    )
    validating_webhook["matchConditions"] = [
        {"name": "not-the-failure-policy-escape-hatch", "expression": ESCAPE_HATCH_EXPRESSION}
    ]
    webhooks = {
        (validating, operator_name): validating_webhook,
        (mutating, operator_name): _webhook(
            f"operator-webhook.{GROUP}",
            MUTATE_PATH,
            _custom_resource_rules((SriovNetworkNodePolicy.PLURAL,)),
            failure_policy=policy,
            settings=settings,
            ca_bundle=ca_bundle_for.get((mutating, operator_name)),
        ),
        (mutating, injector_name): _injector_webhook(
            _failure_policy(config, INJECTOR_FAILURE_POLICY_ANNOTATION),
            settings,
            ca_bundle_for.get((mutating, injector_name)),
        ),
    }
    enabled = {
        operator_name: bool(spec.get("enableOperatorWebhook")),
        injector_name: bool(spec.get("enableInjector")),
    }
    return [
        DesiredConfiguration(kind, name, _object(kind, name, [webhook]) if enabled[name] else None)
        for (kind, name), webhook in webhooks.items()
    ]
