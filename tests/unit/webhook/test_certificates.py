"""Certificate planning: first issue, steady state, early renewal, CA rotation without a trust gap."""

from __future__ import annotations

import datetime
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from sriov_operator.webhook.certificates import (
    CA_BUNDLE,
    CA_CERT,
    TLS_CERT,
    CertificateSettings,
    plan_certificates,
    split_pems,
)

DAY = datetime.timedelta(days=1)
T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
SETTINGS = CertificateSettings(
    dns_names=("sriov-webhook.ops.svc", "sriov-webhook.ops.svc.cluster.local"),
    ip_addresses=("127.0.0.1",),
    ca_validity=30 * DAY,
    serving_validity=9 * DAY,
)


def trusted(bundle: bytes, cert_pem: bytes) -> bool:
    """Would a TLS client holding ``bundle`` accept ``cert_pem``? (verified the way the API server does)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    for ca in split_pems(bundle):
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


def test_first_plan_issues_a_ca_and_a_serving_certificate_for_the_service_names() -> None:
    plan = plan_certificates(None, None, SETTINGS, T0)
    assert plan.ca_data is not None and plan.serving_data is not None
    assert trusted(plan.ca_bundle, plan.serving_data[TLS_CERT])
    cert = x509.load_pem_x509_certificate(plan.serving_data[TLS_CERT])
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == list(SETTINGS.dns_names)
    serving_start = T0 - datetime.timedelta(minutes=5)  # backdated for clocks a little behind
    assert plan.next_check == serving_start + (T0 + 9 * DAY - serving_start) * 2 / 3
    with tempfile.TemporaryDirectory() as tmp:  # loadable as a server pair
        (Path(tmp) / "c").write_bytes(plan.serving_data[TLS_CERT])
        (Path(tmp) / "k").write_bytes(plan.serving_data["tls.key"])
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(Path(tmp) / "c", Path(tmp) / "k")


def test_nothing_is_written_while_both_are_fresh() -> None:
    first = plan_certificates(None, None, SETTINGS, T0)
    again = plan_certificates(first.ca_data, first.serving_data, SETTINGS, T0 + 5 * DAY)
    assert again.ca_data is None and again.serving_data is None
    assert again.ca_bundle == first.ca_bundle


def test_serving_certificate_renewed_with_a_third_of_its_life_left_by_the_same_ca() -> None:
    first = plan_certificates(None, None, SETTINGS, T0)
    later = plan_certificates(first.ca_data, first.serving_data, SETTINGS, T0 + 7 * DAY)
    assert later.ca_data is None and later.serving_data is not None
    assert later.serving_data[TLS_CERT] != first.serving_data[TLS_CERT]
    assert trusted(first.ca_bundle, later.serving_data[TLS_CERT])


def test_ca_rotation_keeps_the_old_ca_trusted_until_it_expires() -> None:
    first = plan_certificates(None, None, SETTINGS, T0)
    rotated = plan_certificates(first.ca_data, first.serving_data, SETTINGS, T0 + 21 * DAY)
    assert rotated.ca_data is not None and rotated.serving_data is not None
    assert rotated.ca_data[CA_CERT] != first.ca_data[CA_CERT]
    # both the serving certificate still mounted and the new one are trusted by the new bundle
    assert trusted(rotated.ca_bundle, first.serving_data[TLS_CERT])
    assert trusted(rotated.ca_bundle, rotated.serving_data[TLS_CERT])
    assert len(split_pems(rotated.ca_bundle)) == 2
    after_expiry = plan_certificates(rotated.ca_data, rotated.serving_data, SETTINGS, T0 + 31 * DAY)
    assert after_expiry.ca_data is not None and len(split_pems(after_expiry.ca_data[CA_BUNDLE])) == 1
    assert not trusted(after_expiry.ca_bundle, first.serving_data[TLS_CERT])


def test_changed_names_or_a_foreign_certificate_are_reissued() -> None:
    first = plan_certificates(None, None, SETTINGS, T0)
    renamed = CertificateSettings(
        dns_names=("other.ops.svc",), ca_validity=30 * DAY, serving_validity=9 * DAY
    )
    assert plan_certificates(first.ca_data, first.serving_data, renamed, T0).serving_data is not None
    stranger = plan_certificates(None, None, SETTINGS, T0)
    assert plan_certificates(first.ca_data, stranger.serving_data, SETTINGS, T0).serving_data is not None
