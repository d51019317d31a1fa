"""TLS reload through a half-written pair; AdmissionReview parsing; the rule that needs the old object."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot, validate_object
from sriov_operator.webhook.certificates import TLS_CERT, TLS_KEY, CertificateSettings, plan_certificates
from sriov_operator.webhook.review import MalformedReviewError, parse_review
from sriov_operator.webhook.tls import CertificateFileError, ReloadingTlsContext

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
