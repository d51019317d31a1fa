"""TLS reload through a half-written pair; AdmissionReview parsing; the rule that needs the old object."""

from __future__ import annotations

import datetime
import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.errors import BadInputError
from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot, validate_object
from sriov_operator.webhook.certificates import TLS_CERT, TLS_KEY, CertificateSettings, plan_certificates
from sriov_operator.webhook.review import MalformedReviewError, parse_review
from sriov_operator.webhook.tls import CertificateFileError, ReloadingTlsContext, server_context

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
NAMES = CertificateSettings(("localhost",))


def _pair() -> tuple[bytes, bytes]:
    plan = plan_certificates(None, None, NAMES, NOW)
    assert plan.serving_data is not None
    return plan.serving_data[TLS_CERT], plan.serving_data[TLS_KEY]


def test_a_half_written_pair_is_ignored_until_it_is_whole(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    first, second = _pair(), _pair()
    cert.write_bytes(first[0])
    key.write_bytes(first[1])
    tls = ReloadingTlsContext(cert, key)
    assert not tls.reload_if_changed()
    cert.write_bytes(second[0])  # the key is not there yet
    assert not tls.reload_if_changed() and tls.reloads == 0
    key.write_bytes(second[1])
    assert tls.reload_if_changed() and tls.reloads == 1


def test_unreadable_files_name_both_flags(tmp_path: Path) -> None:
    with pytest.raises(CertificateFileError, match=r"--tls-cert .*/none / --tls-key .*/none"):
        ReloadingTlsContext(tmp_path / "none", tmp_path / "none")


def _review(**request: Any) -> bytes:
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"\xff", "not JSON"),
        (b"[]", "body: expected an object"),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}).encode(),
            "accepted",
        ),
        (_review(kind={"kind": "Pod"}, operation="CREATE"), "request.uid"),
        (_review(uid="u", kind="Pod", operation="CREATE"), "request.kind: expected an object"),
        (_review(uid="u", kind={"kind": "Pod"}, operation="CREATE", object=[1]), "request.object"),
    ],
)
def test_malformed_reviews_say_what_is_wrong(body: bytes, words: str) -> None:
    with pytest.raises(MalformedReviewError, match=words):
        parse_review(body)


def test_the_request_namespace_fills_the_object() -> None:
    request = parse_review(
        _review(
            uid="u", kind={"kind": "SriovNetwork"}, operation="CREATE", namespace="apps", object={"spec": {}}
        )
    )
    assert request.object == {"spec": {}, "kind": "SriovNetwork", "metadata": {"namespace": "apps"}}


def test_disable_drain_while_a_node_is_in_progress_needs_the_old_object() -> None:
    def config(disable_drain: bool) -> dict[str, Any]:
        return {
            "apiVersion": "sriovnetwork.openshift.io/v1",
            "kind": "SriovOperatorConfig",
            "metadata": {"name": "default", "namespace": "ops"},
            "spec": {"disableDrain": disable_drain},
        }

    busy = ClusterSnapshot(node_states=[{"metadata": {"name": "w1"}, "status": {"syncStatus": "InProgress"}}])
    verdict = validate_object(config(True), config(False), busy, AdmissionSettings("ops"))
    assert verdict.errors == (
        "SriovOperatorConfig/ops/default: spec.disableDrain: cannot be turned on while node(s) w1 are "
        "InProgress; wait until their SriovNetworkNodeState syncStatus is Succeeded or Failed",
    )
    assert validate_object(config(True), config(True), busy, AdmissionSettings("ops")).allowed
    assert validate_object(config(True), config(False), ClusterSnapshot(), AdmissionSettings("ops")).allowed


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str | None:
    """One TLS handshake through memory BIOs; the version agreed, or None when refused."""
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    served = server.wrap_bio(server_in, server_out, server_side=True)
    calling = client.wrap_bio(client_in, client_out, server_hostname="localhost")
    for _ in range(10):
        for side, outgoing, incoming in ((calling, client_out, server_in), (served, server_out, client_in)):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                return None
            incoming.write(outgoing.read())
        if calling.version() and served.version():
            return calling.version()
    return None


def _client(max_version: ssl.TLSVersion) -> ssl.SSLContext:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    client.maximum_version = max_version
    return client


def test_the_minimum_version_refuses_older_clients(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    certificate, private = _pair()
    cert.write_bytes(certificate)
    key.write_bytes(private)
    strict = ReloadingTlsContext(cert, key, server_context("1.3")).context
    default = ReloadingTlsContext(cert, key).context
    assert _handshake(strict, _client(ssl.TLSVersion.TLSv1_2)) is None
    assert _handshake(strict, _client(ssl.TLSVersion.TLSv1_3)) == "TLSv1.3"
    assert _handshake(default, _client(ssl.TLSVersion.TLSv1_2)) == "TLSv1.2"


def test_bad_tls_settings_are_one_line_errors_naming_the_flag() -> None:
    with pytest.raises(BadInputError, match=r"--tls-min-version: '1.1' is not accepted \(1.2 or 1.3\)"):
        server_context("1.1")
    with pytest.raises(BadInputError, match=r"--tls-ciphers: 'RC4-NOPE' names no cipher suite"):
        server_context("1.2", "RC4-NOPE")
    narrowed = server_context("1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    tls12 = [c["name"] for c in narrowed.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12 == ["ECDHE-ECDSA-AES128-GCM-SHA256"]
