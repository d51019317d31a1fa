"""The webhook process's one settings object, from flags (each with an environment fallback)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sriov_operator.api.constants import DEFAULT_RESOURCE_PREFIX, WEBHOOK_CONTAINER_PORT, WEBHOOK_SERVICE_NAME
from sriov_operator.errors import BadInputError
from sriov_operator.runtime.settings import (
    RuntimeSettings,
    add_runtime_arguments,
    flag_adder,
    parse_bool,
    runtime_settings_from,
)
from sriov_operator.webhook.admission import AdmissionSettings
from sriov_operator.webhook.certificates import CertificateSettings
from sriov_operator.webhook.configurations import ConfigurationSettings
from sriov_operator.webhook.connections import ConnectionLimits
from sriov_operator.webhook.server import DEFAULT_MAX_BODY_BYTES, DEFAULT_REVIEW_TIMEOUT, ServerSettings

LEASE_NAME = "sriov-operator-webhook"  # unused: the webhook never leader-elects; every replica serves


@dataclass(frozen=True)
class WebhookSettings:
    runtime: RuntimeSettings
    server: ServerSettings
    admission: AdmissionSettings
    tls_cert: Path
    tls_key: Path
    tls_min_version: str = "1.2"
    tls_ciphers: str = ""


def add_webhook_arguments(
    parser: argparse.ArgumentParser | Any, environ: Mapping[str, str] | None = None
) -> None:
    flag = flag_adder(parser, environ)
    flag("--port", default=WEBHOOK_CONTAINER_PORT, type=int, help="HTTPS port of the admission endpoints")
    flag("--address", default="0.0.0.0", help="address the admission server binds")
    flag("--tls-cert", default=None, help="PEM serving certificate (reloaded when the file changes)")
    flag("--tls-key", default=None, help="PEM private key of --tls-cert")
    flag("--tls-min-version", default="1.2", choices=("1.2", "1.3"), help="lowest TLS version accepted")
    flag(
        "--tls-ciphers",
        default="",
        help="TLS 1.2 cipher suites, OpenSSL names joined by ':' (default: OpenSSL's)",
    )
    flag(
        "--cert-check-interval",
        default=5.0,
        type=float,
        help="seconds between checks of the certificate files for a change",
    )
    flag(
        "--max-body-bytes",
        default=DEFAULT_MAX_BODY_BYTES,
        type=int,
        help="largest AdmissionReview body accepted (larger: HTTP 400)",
    )
    limits = ConnectionLimits()
    flag(
        "--max-connections",
        default=limits.max_connections,
        type=int,
        help="connections open at once; more get HTTP 503 (at most 3/4 of the open-file limit less 64)",
    )
    flag(
        "--header-timeout",
        default=limits.header_timeout,
        type=float,
        help="seconds for a TLS handshake, and for a request's headers after its first byte",
    )
    flag("--body-timeout", default=limits.body_timeout, type=float, help="seconds to read a request body")
    flag(
        "--idle-timeout",
        default=limits.idle_timeout,
        type=float,
        help="seconds a connection may stay open with no request under way",
    )
    flag(
        "--review-timeout",
        default=DEFAULT_REVIEW_TIMEOUT,
        type=float,
        help="seconds from a request's first byte to its answer; later: HTTP 503 (below timeoutSeconds, 10)",
    )
    flag("--resource-prefix", default=DEFAULT_RESOURCE_PREFIX, help="device-plugin resource prefix")
    flag(
        "--strict-nics",
        default=False,
        type=parse_bool,
        help="NIC models missing from the supported-NIC list are errors, not warnings",
    )
    add_runtime_arguments(parser, default_lease_name=LEASE_NAME, environ=environ)


def webhook_settings_from(args: argparse.Namespace) -> WebhookSettings:
    if not args.tls_cert or not args.tls_key:
        raise BadInputError(
            "--tls-cert and --tls-key: both are required (PEM files, e.g. the mounted "
            "sriov-operator-webhook-cert Secret's tls.crt and tls.key)"
        )
    if not 0 <= args.port <= 65535:
        raise BadInputError(f"--port: {args.port} is not a port (accepted: 0 to 65535)")
    if args.max_body_bytes < 1024:
        raise BadInputError(f"--max-body-bytes: {args.max_body_bytes} is too small (accepted: 1024 or more)")
    if args.max_connections < 1:
        raise BadInputError(f"--max-connections: {args.max_connections} is too small (accepted: 1 or more)")
    for name in ("cert_check_interval", "header_timeout", "body_timeout", "idle_timeout", "review_timeout"):
        if not getattr(args, name) > 0:
            raise BadInputError(f"--{name.replace('_', '-')}: {getattr(args, name)} must be > 0 (seconds)")
    limits = ConnectionLimits(args.max_connections, args.header_timeout, args.body_timeout, args.idle_timeout)
    runtime = dataclasses.replace(runtime_settings_from(args), leader_elect=False)
    return WebhookSettings(
        runtime=runtime,
        server=ServerSettings(
            args.address,
            args.port,
            args.max_body_bytes,
            args.cert_check_interval,
            limits,
            args.review_timeout,
        ),
        admission=AdmissionSettings(runtime.namespace, args.resource_prefix, args.strict_nics),
        tls_cert=Path(args.tls_cert),
        tls_key=Path(args.tls_key),
        tls_min_version=args.tls_min_version,
        tls_ciphers=args.tls_ciphers,
    )


# The operator process runs the webhook's certificate controller (certificate_controller.py);
# its flags and settings are these.


@dataclass(frozen=True)
class WebhookOperatorSettings:
    namespace: str
    configurations: ConfigurationSettings
    certificates: CertificateSettings


def webhook_operator_settings(
    namespace: str,
    *,
    url: str | None = None,
    ip_addresses: tuple[str, ...] = (),
    ca_validity: datetime.timedelta = datetime.timedelta(days=3650),
    serving_validity: datetime.timedelta = datetime.timedelta(days=365),
) -> WebhookOperatorSettings:
    """Names on the serving certificate: the webhook Service's DNS names (plus ``ip_addresses``)."""
    service = f"{WEBHOOK_SERVICE_NAME}.{namespace}.svc"
    return WebhookOperatorSettings(
        namespace,
        ConfigurationSettings(operator_namespace=namespace, url=url),
        CertificateSettings(
            (service, f"{service}.cluster.local"), ip_addresses, ca_validity, serving_validity
        ),
    )


def add_webhook_operator_arguments(
    parser: argparse.ArgumentParser | Any, environ: Mapping[str, str] | None = None
) -> None:
    """The operator command's flags for the webhook's certificates and configurations."""
    flag = flag_adder(parser, environ)
    flag(
        "--webhook-url",
        default="",
        help="base URL the API server calls the webhook at, instead of its Service (a webhook outside the "
        "cluster)",
    )
    flag(
        "--webhook-cert-ip",
        default="",
        help="comma-separated IP addresses added to the serving certificate (with --webhook-url)",
    )
    flag(
        "--webhook-cert-days",
        default=365,
        type=int,
        help="life of the serving certificate in days (renewed with a third left)",
    )


def webhook_operator_settings_from(args: argparse.Namespace, namespace: str) -> WebhookOperatorSettings:
    if args.webhook_cert_days < 1:
        raise BadInputError(f"--webhook-cert-days: {args.webhook_cert_days} must be 1 or more")
    ips = tuple(ip.strip() for ip in args.webhook_cert_ip.split(",") if ip.strip())
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError as exc:
            raise BadInputError(
                f"--webhook-cert-ip: {ip!r} is not an IP address (accepted: comma-separated IPv4/IPv6)"
            ) from exc
    return webhook_operator_settings(
        namespace,
        url=args.webhook_url or None,
        ip_addresses=ips,
        serving_validity=datetime.timedelta(days=args.webhook_cert_days),
    )
