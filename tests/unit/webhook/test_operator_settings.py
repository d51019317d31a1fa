"""The operator's webhook flags: certificate names follow the Service, bad values are one-line errors."""

from __future__ import annotations

import argparse
import datetime

import pytest

from sriov_operator.errors import BadInputError
from sriov_operator.webhook.settings import (
    add_webhook_operator_arguments,
    webhook_operator_settings_from,
)


def parse(*argv: str, environ: dict[str, str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_webhook_operator_arguments(parser, environ=environ or {})
    return parser.parse_args(argv)


def test_defaults_name_the_service_and_call_it() -> None:
    settings = webhook_operator_settings_from(parse(), "ops")
    assert settings.certificates.dns_names == (
        "sriov-operator-webhook.ops.svc",
        "sriov-operator-webhook.ops.svc.cluster.local",
    )
    assert settings.certificates.serving_validity == datetime.timedelta(days=365)
    assert settings.configurations.url is None and settings.configurations.operator_namespace == "ops"


def test_an_outside_webhook_by_url_with_ip_names_from_the_environment() -> None:
    args = parse(
        environ={
            "SRIOV_OPERATOR_WEBHOOK_URL": "https://10.0.0.5:6443",
            "SRIOV_OPERATOR_WEBHOOK_CERT_IP": "10.0.0.5, ::1",
        }
    )
    settings = webhook_operator_settings_from(args, "ops")
    assert settings.configurations.url == "https://10.0.0.5:6443"
    assert settings.certificates.ip_addresses == ("10.0.0.5", "::1")


def test_a_certificate_life_below_one_day_is_refused() -> None:
    with pytest.raises(BadInputError, match=r"^--webhook-cert-days: 0 must be 1 or more$"):
        webhook_operator_settings_from(parse("--webhook-cert-days", "0"), "ops")


def test_a_bad_ip_name_is_refused_naming_it() -> None:
    with pytest.raises(BadInputError, match=r"^--webhook-cert-ip: 'host.example' is not an IP address"):
        webhook_operator_settings_from(parse("--webhook-cert-ip", "10.0.0.1,host.example"), "ops")
