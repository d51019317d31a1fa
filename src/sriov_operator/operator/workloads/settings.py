"""What the workloads controller needs to know that is not in the SriovOperatorConfig."""

from __future__ import annotations

import argparse
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator import __version__
from sriov_operator.api.constants import DEFAULT_OPERATOR_NAMESPACE, DEFAULT_RESOURCE_PREFIX
from sriov_operator.errors import BadInputError
from sriov_operator.operator.owners import is_object_name
from sriov_operator.runtime.settings import flag_adder

OPERATOR_IMAGE_REPOSITORY = "ghcr.io/sriov-fdp/sriov-fdp-operator"
DEFAULT_DEVICE_PLUGIN_IMAGE = "ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.9.0"
PULL_POLICIES = ("IfNotPresent", "Always", "Never")
TLS_VERSIONS = ("1.2", "1.3")
# The CNI plugins our NADs name (type: sriov, ib-sriov, ovs), as upstream ships them.
DEFAULT_SRIOV_CNI_IMAGE = "ghcr.io/k8snetworkplumbingwg/sriov-cni:v2.8.1"
DEFAULT_IB_SRIOV_CNI_IMAGE = "ghcr.io/k8snetworkplumbingwg/ib-sriov-cni:v1.1.1"
DEFAULT_OVS_CNI_IMAGE = "ghcr.io/k8snetworkplumbingwg/ovs-cni-plugin:v0.34.2"
DEFAULT_CNI_BIN_DIR = "/opt/cni/bin"
# The per-VF counters upstream's metricsExporter feature gate deploys.
DEFAULT_METRICS_EXPORTER_IMAGE = "ghcr.io/k8snetworkplumbingwg/sriov-network-metrics-exporter:v1.1.1"


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
    sriov_cni_image: str = DEFAULT_SRIOV_CNI_IMAGE
    ib_sriov_cni_image: str = DEFAULT_IB_SRIOV_CNI_IMAGE
    ovs_cni_image: str = DEFAULT_OVS_CNI_IMAGE
    metrics_exporter_image: str = DEFAULT_METRICS_EXPORTER_IMAGE
    """Image of the per-VF metrics exporter DaemonSet (the ``metricsExporter`` feature gate)."""
    cni_bin_dir: str = DEFAULT_CNI_BIN_DIR
    """The host's CNI binary directory (the kubelet's / Multus's ``cniBinDir``)."""
    image_pull_secrets: tuple[str, ...] = ()
    """Secrets in the operator's namespace every workload pod pulls its images with."""
    webhook_tls_min_version: str = "1.2"
    webhook_tls_ciphers: str = ""
    """The webhook's TLS 1.2 cipher suites (OpenSSL names, ``:``-separated); "" = the webhook's default."""

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
    flag = flag_adder(parser, environ)
    flag(
        "--operator-image",
        default="",
        help=f"image of the config daemon and webhook pods (default: {default_operator_image()})",
    )
    flag(
        "--device-plugin-image",
        default=defaults.device_plugin_image,
        help="image of the SR-IOV device plugin DaemonSet",
    )
    for name, default, plugin in (
        ("--sriov-cni-image", defaults.sriov_cni_image, "sriov"),
        ("--ib-sriov-cni-image", defaults.ib_sriov_cni_image, "ib-sriov (when a SriovIBNetwork exists)"),
        ("--ovs-cni-image", defaults.ovs_cni_image, "ovs (when an OVSNetwork exists)"),
    ):
        flag(
            name,
            default=default,
            help=f"image the config daemon's init container copies the {plugin} CNI plugin from",
        )
    flag(
        "--metrics-exporter-image",
        default=defaults.metrics_exporter_image,
        help="image of the per-VF metrics exporter DaemonSet (the metricsExporter feature gate)",
    )
    flag(
        "--cni-bin-dir",
        default=defaults.cni_bin_dir,
        help="the nodes' CNI binary directory, where the CNI plugins are installed",
    )
    flag(
        "--image-pull-secrets",
        default="",
        help="comma-separated Secrets (in the operator's namespace) the workload pods pull images with",
    )
    flag(
        "--webhook-tls-min-version",
        default=defaults.webhook_tls_min_version,
        choices=TLS_VERSIONS,
        help="the webhook pods' lowest TLS version (their --tls-min-version)",
    )
    flag(
        "--webhook-tls-ciphers",
        default=defaults.webhook_tls_ciphers,
        help="the webhook pods' TLS 1.2 cipher suites, OpenSSL names joined by ':' (their --tls-ciphers)",
    )
    flag(
        "--image-pull-policy",
        default=defaults.image_pull_policy,
        choices=PULL_POLICIES,
        help="imagePullPolicy of every workload container",
    )


def workload_settings_from(
    args: argparse.Namespace, *, namespace: str, resource_prefix: str
) -> WorkloadSettings:
    for flag, image in (
        ("--operator-image", args.operator_image),
        ("--device-plugin-image", args.device_plugin_image),
        ("--sriov-cni-image", args.sriov_cni_image),
        ("--ib-sriov-cni-image", args.ib_sriov_cni_image),
        ("--ovs-cni-image", args.ovs_cni_image),
        ("--metrics-exporter-image", args.metrics_exporter_image),
    ):
        if image and not is_pinned(image):
            raise BadInputError(
                f"{flag}: {image!r} is not pinned; accepted: repo:tag (not 'latest') or repo@sha256:..."
            )
    if not args.cni_bin_dir.startswith("/") or ".." in args.cni_bin_dir.split("/"):
        raise BadInputError(
            f"--cni-bin-dir: {args.cni_bin_dir!r} is not accepted (an absolute path without '..')"
        )
    secrets = tuple(name.strip() for name in args.image_pull_secrets.split(",") if name.strip())
    for name in secrets:
        if not is_object_name(name):
            raise BadInputError(
                f"--image-pull-secrets: {name!r} is not a Secret name "
                "(accepted: lower-case letters, digits, '-' and '.')"
            )
    if args.webhook_tls_ciphers:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(args.webhook_tls_ciphers)
        except ssl.SSLError:
            raise BadInputError(
                f"--webhook-tls-ciphers: {args.webhook_tls_ciphers!r} names no cipher suite OpenSSL knows "
                "(accepted: OpenSSL names joined by ':', e.g. ECDHE-ECDSA-AES128-GCM-SHA256)"
            ) from None
    return WorkloadSettings(
        namespace=namespace,
        resource_prefix=resource_prefix,
        operator_image=args.operator_image,
        device_plugin_image=args.device_plugin_image,
        image_pull_policy=args.image_pull_policy,
        sriov_cni_image=args.sriov_cni_image,
        ib_sriov_cni_image=args.ib_sriov_cni_image,
        ovs_cni_image=args.ovs_cni_image,
        metrics_exporter_image=args.metrics_exporter_image,
        cni_bin_dir=args.cni_bin_dir,
        image_pull_secrets=secrets,
        webhook_tls_min_version=args.webhook_tls_min_version,
        webhook_tls_ciphers=args.webhook_tls_ciphers,
    )
