"""Throw-away PKI for a local control plane: one CA, serving and client certificates.

EC P-256 keys: generating them takes milliseconds, which keeps a warm start fast.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ControlPlanePki:
    ca: CertPair
    apiserver_serving: CertPair
    etcd_serving: CertPair
    etcd_client: CertPair  # the apiserver's identity towards etcd
    admin: CertPair  # CN=admin, O=system:masters
    service_account_key: Path  # private, signs tokens
    service_account_pub: Path  # public, verifies them


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


class _Issuer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = _key()
        self.name = _name("sriov-operator-local-ca")
        cert = (
            _builder(self.name, self.name, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.pair = self._store("ca", cert, self.key)

    def _store(self, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertPair:
        pair = CertPair(self.directory / f"{stem}.crt", self.directory / f"{stem}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, pair.key)
        return pair

    def issue(
        self,
        stem: str,
        common_name: str,
        *,
        organization: str | None = None,
        server: bool = False,
        client: bool = False,
        dns_names: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
    ) -> CertPair:
        key = _key()
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        )
        builder = _builder(_name(common_name, organization), self.name, key.public_key()).add_extension(
            x509.ExtendedKeyUsage(usages), critical=False
        )
        alt_names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        return self._store(stem, builder.sign(self.key, hashes.SHA256()), key)


def create_pki(directory: Path, service_ip: str = "10.0.0.1") -> ControlPlanePki:
    directory.mkdir(parents=True, exist_ok=True)
    issuer = _Issuer(directory)
    sa_key = _key()
    sa_key_path, sa_pub_path = directory / "sa.key", directory / "sa.pub"
    _write_key(sa_key, sa_key_path)
    sa_pub_path.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    kubernetes_names = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
    return ControlPlanePki(
        ca=issuer.pair,
        apiserver_serving=issuer.issue(
            "apiserver",
            "kube-apiserver",
            server=True,
            dns_names=kubernetes_names,
            ips=("127.0.0.1", service_ip),
        ),
        # clientAuth too: etcd's JSON gateway (/v3/..., used by tests to compact) dials etcd's own gRPC
        # port with the serving certificate, and etcd verifies client certificates.
        etcd_serving=issuer.issue(
            "etcd", "etcd", server=True, client=True, dns_names=("localhost",), ips=("127.0.0.1",)
        ),
        etcd_client=issuer.issue("apiserver-etcd-client", "kube-apiserver-etcd-client", client=True),
        admin=issuer.issue("admin", "admin", organization="system:masters", client=True),
        service_account_key=sa_key_path,
        service_account_pub=sa_pub_path,
    )
