"""Webhook configurations from the SriovOperatorConfig: flags, failurePolicy, selectors, caBundle."""

from __future__ import annotations

import base64
from typing import Any

from sriov_operator.webhook.configurations import (
    ConfigurationSettings,
    injects_own_ca_bundle,
    render_configurations,
)

SETTINGS = ConfigurationSettings(operator_namespace="sriov-ops")


def config(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "default", "annotations": annotations or {}}, "spec": spec}


def by_name(rendered: list[Any]) -> dict[tuple[str, str], Any]:
    return {(d.kind, d.name): d.body for d in rendered}


def test_enable_flags_decide_which_configurations_exist() -> None:
    off = by_name(render_configurations(config(), SETTINGS, {}))
    assert set(off.values()) == {None}
    assert by_name(render_configurations(None, SETTINGS, {})) == off
    both = by_name(
        render_configurations(config(enableOperatorWebhook=True, enableInjector=True), SETTINGS, {})
    )
    assert all(body is not None for body in both.values()) and len(both) == 3
    only_injector = by_name(render_configurations(config(enableInjector=True), SETTINGS, {}))
    assert only_injector[("MutatingWebhookConfiguration", "network-resources-injector-config")] is not None
    assert only_injector[("ValidatingWebhookConfiguration", "sriov-operator-webhook-config")] is None


def test_failure_policy_is_fail_unless_annotated_ignore() -> None:
    annotations = {"sriovnetwork.openshift.io/injector-failure-policy": "Ignore"}
    rendered = by_name(
        render_configurations(
            config(annotations, enableOperatorWebhook=True, enableInjector=True), SETTINGS, {}
        )
    )
    policies = {key: body["webhooks"][0]["failurePolicy"] for key, body in rendered.items()}
    assert policies == {
        ("ValidatingWebhookConfiguration", "sriov-operator-webhook-config"): "Fail",
        ("MutatingWebhookConfiguration", "sriov-operator-webhook-config"): "Fail",
        ("MutatingWebhookConfiguration", "network-resources-injector-config"): "Ignore",
    }


def test_injector_skips_the_operator_namespace_and_pods_without_networks() -> None:
    rendered = by_name(render_configurations(config(enableInjector=True), SETTINGS, {}))
    webhook = rendered[("MutatingWebhookConfiguration", "network-resources-injector-config")]["webhooks"][0]
    assert webhook["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["sriov-ops"]}
    ]
    assert (
        "'k8s.v1.cni.cncf.io/networks' in object.metadata.annotations"
        in (webhook["matchConditions"][0]["expression"])
    )
    assert webhook["clientConfig"]["service"] == {
        "namespace": "sriov-ops",
        "name": "sriov-operator-webhook",
        "path": "/mutating-pods",
        "port": 443,
    }


def test_ca_bundle_only_where_we_inject_it() -> None:
    key = ("ValidatingWebhookConfiguration", "sriov-operator-webhook-config")
    url = ConfigurationSettings(operator_namespace="sriov-ops", url="https://127.0.0.1:9443")
    rendered = by_name(render_configurations(config(enableOperatorWebhook=True), url, {key: b"PEM"}))
    client = rendered[key]["webhooks"][0]["clientConfig"]
    assert client == {
        "url": "https://127.0.0.1:9443/validating-custom-resource",
        "caBundle": base64.b64encode(b"PEM").decode(),
    }
    mutating = rendered[("MutatingWebhookConfiguration", "sriov-operator-webhook-config")]
    assert "caBundle" not in mutating["webhooks"][0]["clientConfig"]
    assert injects_own_ca_bundle({"metadata": {"annotations": {"other": "x"}}})
    assert injects_own_ca_bundle(None)
    assert not injects_own_ca_bundle(
        {"metadata": {"annotations": {"cert-manager.io/inject-ca-from": "ns/c"}}}
    )
