"""The webhook's certificates without cert-manager: a CA and a serving certificate, renewed early (pure).

The operator keeps two Secrets: the CA (``ca.crt``, ``ca.key`` and
``ca-bundle.crt``, the CAs the API server must trust) and the serving pair
(``tls.crt``, ``tls.key``, ``ca.crt``) that the webhook mounts.  Each
certificate is renewed when less than a third of its life is left.

No x509 race on rotation: a new CA goes into the bundle *next to* the old one
(until the old one expires), so whichever serving certificate the webhook
presents while the mounted Secret catches up, the API server trusts it.
:func:`plan_certificates` decides; the controller writes Secrets in the order
CA, webhook configurations' caBundle, serving pair.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sriov_operator.x509_usage import CA_KEY_USAGE

CA_CERT, CA_KEY, CA_BUNDLE = "ca.crt", "ca.key", "ca-bundle.crt"
TLS_CERT, TLS_KEY = "tls.crt", "tls.key"
RENEW_WHEN_LEFT = 1 / 3
_BACKDATE = datetime.timedelta(minutes=5)  # tolerate clocks a little behind ours


@dataclass(frozen=True)
class CertificateSettings:
    dns_names: tuple[str, ...]  # the Service's names: <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local
    ip_addresses: tuple[str, ...] = ()
    ca_validity: datetime.timedelta = datetime.timedelta(days=3650)
    serving_validity: datetime.timedelta = datetime.timedelta(days=365)


@dataclass(frozen=True)
class CertificatePlan:
    """Secret data to write (None: keep what is there), the caBundle, and when to look again."""

    ca_data: dict[str, bytes] | None
    serving_data: dict[str, bytes] | None
    ca_bundle: bytes
    next_check: datetime.datetime


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _builder(
    subject: str,
    issuer: x509.Name | None,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    life: datetime.timedelta,
) -> x509.CertificateBuilder:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - min(_BACKDATE, life / 10))
        .not_valid_after(now + life)
    )


def new_ca(now: datetime.datetime, validity: datetime.timedelta) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a fresh self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(f"sriov-operator-webhook-ca@{int(now.timestamp())}", None, key.public_key(), now, validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def issue_serving(
    ca_cert_pem: bytes, ca_key_pem: bytes, settings: CertificateSettings, now: datetime.datetime
) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for the webhook's names, signed by the CA."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in settings.dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in settings.ip_addresses]
    cert = (
        _builder(settings.dns_names[0], ca_cert.subject, key.public_key(), now, settings.serving_validity)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _load(pem: bytes | None) -> x509.Certificate | None:
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None


def renew_at(cert: x509.Certificate) -> datetime.datetime:
    """When a third of the certificate's life is left."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return end - (end - start) * RENEW_WHEN_LEFT


def _covers(cert: x509.Certificate, settings: CertificateSettings) -> bool:
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    ips = {str(ip) for ip in alt.get_values_for_type(x509.IPAddress)}
    return set(alt.get_values_for_type(x509.DNSName)) == set(settings.dns_names) and ips == {
        str(ipaddress.ip_address(ip)) for ip in settings.ip_addresses
    }


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def split_pems(bundle: bytes) -> list[x509.Certificate]:
    certs = []
    marker = b"-----END CERTIFICATE-----"
    for chunk in bundle.split(marker):
        if b"-----BEGIN CERTIFICATE-----" in chunk and (cert := _load(chunk + marker + b"\n")):
            certs.append(cert)
    return certs


def _bundle(cas: Sequence[x509.Certificate], now: datetime.datetime) -> bytes:
    seen: set[bytes] = set()
    pems = []
    for ca in cas:
        pem = ca.public_bytes(serialization.Encoding.PEM)
        if pem not in seen and ca.not_valid_after_utc > now:
            seen.add(pem)
            pems.append(pem)
    return b"".join(pems)


def plan_certificates(
    ca_data: Mapping[str, bytes] | None,
    serving_data: Mapping[str, bytes] | None,
    settings: CertificateSettings,
    now: datetime.datetime,
) -> CertificatePlan:
    """What to write so the webhook serves a valid certificate the API server trusts."""
    ca_data = ca_data or {}
    serving_data = serving_data or {}
    ca = _load(ca_data.get(CA_CERT))
    previous = split_pems(ca_data.get(CA_BUNDLE, b""))
    new_ca_data: dict[str, bytes] | None = None
    if ca is None or not ca_data.get(CA_KEY) or now >= renew_at(ca):
        retiring = [ca] if ca is not None else []
        ca_pem, ca_key_pem = new_ca(now, settings.ca_validity)
        ca = x509.load_pem_x509_certificate(ca_pem)
        bundle = _bundle([ca, *retiring, *previous], now)
        new_ca_data = {CA_CERT: ca_pem, CA_KEY: ca_key_pem, CA_BUNDLE: bundle}
    else:
        bundle = _bundle([ca, *previous], now)
        if bundle != ca_data.get(CA_BUNDLE):
            new_ca_data = {**ca_data, CA_BUNDLE: bundle}
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    ca_key_pem = (new_ca_data or ca_data)[CA_KEY]
    serving = _load(serving_data.get(TLS_CERT))
    new_serving: dict[str, bytes] | None = None
    if (
        serving is None
        or not serving_data.get(TLS_KEY)
        or now >= renew_at(serving)
        or not _signed_by(serving, ca)
        or not _covers(serving, settings)
    ):
        cert_pem, key_pem = issue_serving(ca_pem, ca_key_pem, settings, now)
        serving = x509.load_pem_x509_certificate(cert_pem)
        new_serving = {TLS_CERT: cert_pem, TLS_KEY: key_pem, CA_CERT: ca_pem}
    next_check = min(renew_at(ca), renew_at(serving), *(c.not_valid_after_utc for c in split_pems(bundle)))
    return CertificatePlan(new_ca_data, new_serving, bundle, next_check)
