"""The failure-policy switch works while the webhook is dead (real API server, webhook process killed).

The validating configuration the operator renders (failurePolicy Fail) points at a
running ``sriov-operator webhook`` process, narrowed by a namespace label to this
test's namespace.  The process is killed with SIGKILL; then a spec change of the
SriovOperatorConfig is refused (the webhook is in the path and down), and setting
``webhook-failure-policy: Ignore`` alone goes through (the configuration's
matchCondition leaves that write out).
"""

from __future__ import annotations

import asyncio
import shlex
import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from sriov_operator.api import constants
from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.webhook.configurations import ConfigurationSettings, render_configurations
from tests.docs_examples import example
from tests.integration.webhook_support import start_webhook_process
from tests.kube_client import APPLY_PATCH, api_error_message

pytestmark = pytest.mark.integration
VALIDATING = "ValidatingWebhookConfiguration"


def _documented_annotation() -> dict[str, str]:
    """The annotation docs/webhook.md's ``kubectl annotate`` sets (what kubectl sends as a merge patch)."""
    words = shlex.split(example("escape-hatch").text.replace("\\\n", " "))
    assert words[:2] == ["kubectl", "-n"] and words[3:6] == ["annotate", "sriovoperatorconfig", "default"]
    assert words[-1] == "--overwrite"
    key, value = words[6].split("=", 1)
    assert (key, value) == (constants.WEBHOOK_FAILURE_POLICY_ANNOTATION, "Ignore")
    return {key: value}


async def _patch_config(kube: client.ApiClient, namespace: str, patch: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await client.CustomObjectsApi(kube).patch_namespaced_custom_object(
        constants.GROUP,
        constants.VERSION,
        namespace,
        SriovOperatorConfig.PLURAL,
        "default",
        patch,
        _content_type="application/merge-patch+json",
    )
    return result


async def _refused(kube: client.ApiClient, namespace: str, patch: dict[str, Any], deadline: float) -> str:
    """The patch is refused because the webhook cannot be called (retried until the API server notices)."""
    while True:
        try:
            await _patch_config(kube, namespace, patch)
        except client.ApiException as error:
            message = api_error_message(error)
            if "failed calling webhook" in message:
                return message
            raise
        assert asyncio.get_running_loop().time() < deadline, f"{patch} never went through the webhook"
        await asyncio.sleep(0.2)


async def test_the_ignore_annotation_can_be_set_while_the_webhook_is_killed(
    kube: client.ApiClient, control_plane: ControlPlane, tmp_path: Path
) -> None:
    label = {"sriov-escape-hatch": uuid.uuid4().hex[:8]}
    namespace = f"sriov-hatch-{label['sriov-escape-hatch']}"
    core = client.CoreV1Api(kube)
    await core.create_namespace({"metadata": {"name": namespace, "labels": label}})
    objects = client.CustomObjectsApi(kube)
    config = {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"enableOperatorWebhook": True, "logLevel": 2},
    }
    await objects.create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, namespace, SriovOperatorConfig.PLURAL, config
    )
    webhook = start_webhook_process(control_plane, namespace, tmp_path)
    admission = client.AdmissionregistrationV1Api(kube)
    name = f"{constants.OPERATOR_WEBHOOK_CONFIG_NAME}-{label['sriov-escape-hatch']}"

    def validating(operator_config: dict[str, Any]) -> dict[str, Any] | None:
        rendered = render_configurations(
            operator_config,
            ConfigurationSettings(operator_namespace=namespace, url=webhook.url),
            {(VALIDATING, constants.OPERATOR_WEBHOOK_CONFIG_NAME): webhook.ca_bundle},
        )
        return next(d.body for d in rendered if d.kind == VALIDATING)

    try:
        body = validating(config)
        assert body is not None and body["webhooks"][0]["failurePolicy"] == "Fail"
        body["metadata"]["name"] = name
        body["webhooks"][0]["namespaceSelector"] = {"matchLabels": label}
        await admission.patch_validating_webhook_configuration(
            name, body, field_manager="test", force=True, _content_type=APPLY_PATCH
        )
        webhook.process.kill()  # SIGKILL: nothing answers on its port any more
        webhook.process.wait(timeout=30)
        deadline = asyncio.get_running_loop().time() + 15
        # the webhook is in the path of spec changes and of other annotations, and it is down
        await _refused(kube, namespace, {"spec": {"logLevel": 0}}, deadline)
        await _refused(kube, namespace, {"metadata": {"annotations": {"other": "x"}}}, deadline)
        hatch_and_spec = {
            "metadata": {"annotations": {constants.WEBHOOK_FAILURE_POLICY_ANNOTATION: "Ignore"}},
            "spec": {"logLevel": 1},
        }
        with pytest.raises(client.ApiException, match="failed calling webhook"):
            await _patch_config(kube, namespace, hatch_and_spec)
        # the escape hatch alone goes through
        before = await objects.get_namespaced_custom_object(
            constants.GROUP, constants.VERSION, namespace, SriovOperatorConfig.PLURAL, "default"
        )
        hatch = {"metadata": {"annotations": _documented_annotation()}}
        stored = await _patch_config(kube, namespace, hatch)
        assert stored["metadata"]["annotations"][constants.WEBHOOK_FAILURE_POLICY_ANNOTATION] == "Ignore"
        assert stored["spec"] == before["spec"]
        # and what the operator renders from it lets the rest through while the webhook stays down
        after = validating(stored)
        assert after is not None and after["webhooks"][0]["failurePolicy"] == "Ignore"
    finally:
        if webhook.process.poll() is None:
            webhook.process.kill()
            webhook.process.wait(timeout=30)
        await admission.delete_validating_webhook_configuration(name)
