"""What the workloads controller needs to know that is not in the SriovOperatorConfig."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator import __version__
from sriov_operator.api.constants import DEFAULT_OPERATOR_NAMESPACE, DEFAULT_RESOURCE_PREFIX
from sriov_operator.errors import BadInputError
from sriov_operator.runtime.settings import add_flag

OPERATOR_IMAGE_REPOSITORY = "ghcr.io/sriov-fdp/sriov-fdp-operator"
DEFAULT_DEVICE_PLUGIN_IMAGE = "ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.9.0"
PULL_POLICIES = ("IfNotPresent", "Always", "Never")


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


def is_pinned(image: str) -> bool:
    """``repo:tag`` with a tag other than ``latest``, or ``repo@digest``."""
    if "@" in image:
        return True
    _, _, tag = image.rpartition("/")[2].partition(":")
    return bool(tag) and tag != "latest"


def add_workload_arguments(
    parser: argparse.ArgumentParser | Any, environ: Mapping[str, str] | None = None
) -> None:
    """The image flags of the workloads controller (docs/settings.md, docs/operator-config.md)."""
    defaults = WorkloadSettings()
    add_flag(
        parser,
        "--operator-image",
        default="",
        environ=environ,
        help=f"image of the config daemon and webhook pods (default: {default_operator_image()})",
    )
    add_flag(
        parser,
        "--device-plugin-image",
        default=defaults.device_plugin_image,
        environ=environ,
        help="image of the SR-IOV device plugin DaemonSet",
    )
    add_flag(
        parser,
        "--image-pull-policy",
        default=defaults.image_pull_policy,
        environ=environ,
        choices=PULL_POLICIES,
        help="imagePullPolicy of every workload container",
    )


def workload_settings_from(
    args: argparse.Namespace, *, namespace: str, resource_prefix: str
) -> WorkloadSettings:
    for flag, image in (
        ("--operator-image", args.operator_image),
        ("--device-plugin-image", args.device_plugin_image),
    ):
        if image and not is_pinned(image):
            raise BadInputError(
                f"{flag}: {image!r} is not pinned; accepted: repo:tag (not 'latest') or repo@sha256:..."
            )
    return WorkloadSettings(
        namespace=namespace,
        resource_prefix=resource_prefix,
        operator_image=args.operator_image,
        device_plugin_image=args.device_plugin_image,
        image_pull_policy=args.image_pull_policy,
    )
