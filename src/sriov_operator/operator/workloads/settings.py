"""What the workloads controller needs to know that is not in the SriovOperatorConfig."""

from __future__ import annotations

from dataclasses import dataclass

from sriov_operator import __version__
from sriov_operator.api.constants import DEFAULT_OPERATOR_NAMESPACE, DEFAULT_RESOURCE_PREFIX

OPERATOR_IMAGE_REPOSITORY = "ghcr.io/sriov-fdp/sriov-fdp-operator"
DEFAULT_DEVICE_PLUGIN_IMAGE = "ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.9.0"


def default_operator_image() -> str:
    """This build's own image, pinned to its version (never ``latest``)."""
    tag = __version__.split("+", 1)[0]
    return f"{OPERATOR_IMAGE_REPOSITORY}:v{tag}"


@dataclass(frozen=True)
class WorkloadSettings:
    namespace: str = DEFAULT_OPERATOR_NAMESPACE
    resource_prefix: str = DEFAULT_RESOURCE_PREFIX
    operator_image: str = ""
    """Image of the config daemon and the webhook (they are this program); "" = this build's."""
    device_plugin_image: str = DEFAULT_DEVICE_PLUGIN_IMAGE
    image_pull_policy: str = "IfNotPresent"

    @property
    def daemon_image(self) -> str:
        return self.operator_image or default_operator_image()
