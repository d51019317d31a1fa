"""Which CRDs the operator re-applies at start (operator/crd_upgrade.py), as pure decisions."""

from __future__ import annotations

import copy

from sriov_operator.api.crds import all_crds
from sriov_operator.operator.crd_upgrade import DIGEST_ANNOTATION, crd_digest, needs_apply, with_digest

CRD = all_crds()[0]


def test_a_crd_applied_by_this_version_is_left_alone() -> None:
    live = copy.deepcopy(with_digest(CRD))
    live["metadata"] |= {"resourceVersion": "42", "uid": "u"}  # what the server adds does not matter
    assert not needs_apply(CRD, live)


def test_a_missing_or_unmarked_or_older_crd_is_applied() -> None:
    older = copy.deepcopy(CRD)
    older["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = "older"
    unmarked = copy.deepcopy(CRD)  # installed by Helm's crds/ or kubectl: no digest
    assert needs_apply(CRD, None)
    assert needs_apply(CRD, unmarked)
    assert needs_apply(CRD, with_digest(older))


def test_the_digest_does_not_cover_its_own_annotation() -> None:
    marked = with_digest(CRD)
    assert marked["metadata"]["annotations"][DIGEST_ANNOTATION] == crd_digest(CRD) == crd_digest(marked)
