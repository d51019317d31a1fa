"""docs/webhook.md: its injector example is what the webhook answers; docs/settings.md lists every flag."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from sriov_operator.runtime.settings import env_variable
from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot
from sriov_operator.webhook.injector import NadKey
from sriov_operator.webhook.review import parse_review, review_response
from sriov_operator.webhook.server import Admission
from sriov_operator.webhook.settings import add_webhook_arguments
from tests.docs_examples import example
from tests.support import flags_besides_runtime, settings_rows


class OneNad:
    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot()

    async def network_attachment_definitions(self, keys: Iterable[NadKey]) -> dict[NadKey, Any]:
        nad = {"metadata": {"annotations": {"k8s.v1.cni.cncf.io/resourceName": "openshift.io/dpdk1"}}}
        return {key: nad if key == ("apps", "dpdk-net") else None for key in keys}


async def test_the_documented_injector_example() -> None:
    request = parse_review(json.dumps(json.loads(example("admission-request").text)).encode())
    verdict = await Admission(AdmissionSettings("sriov-network-operator"), OneNad()).inject(request)
    response = review_response(request.uid, verdict)["response"]
    assert response["allowed"] and response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"])) == json.loads(example("admission-patch").text)


def test_settings_doc_lists_every_webhook_flag() -> None:
    documented = settings_rows("`sriov-operator webhook`")
    own = flags_besides_runtime(lambda parser: add_webhook_arguments(parser, environ={}))
    assert sorted(documented) == sorted(a.option_strings[0] for a in own)
    for action in own:
        flag = action.option_strings[0]
        assert documented[flag][1] == f"`{env_variable(flag)}`", flag
        assert str(action.default if action.default is not None else "") in documented[flag][2], flag
