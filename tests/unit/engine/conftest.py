"""Every engine test that renders also checks that the admission webhook agrees with ``validate``.

``render`` (the builders' offline path, what ``validate`` runs) is wrapped: after
it runs, each object of a kind the webhook admits is reviewed the way the API
server would send it (mutating webhook first, then validating), against the
other objects as the cluster.  The webhook's errors and warnings must be exactly
``validate``'s lines about that object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sriov_operator.engine.render import RenderResult
from tests.unit.engine import builders
from tests.unit.webhook.agreement import assert_webhook_agrees


@pytest.fixture(autouse=True, scope="module")
def webhook_agrees_with_validate(request: pytest.FixtureRequest) -> Iterator[None]:
    offline = builders.render

    def render_and_compare(
        bodies: list[dict[str, Any]], *, namespace: str | None = None, strict_nics: bool = False
    ) -> RenderResult:
        result = offline(bodies, namespace=namespace, strict_nics=strict_nics)
        assert_webhook_agrees(bodies, result, namespace=namespace, strict_nics=strict_nics)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builders, "render", render_and_compare)
        if getattr(request.module, "render", None) is offline:
            patch.setattr(request.module, "render", render_and_compare)
        yield
