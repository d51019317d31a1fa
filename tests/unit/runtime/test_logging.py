"""Log lines: key=value text or JSON, naming objects as Kind/ns/name."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriov_operator.api.refs import ObjectRef, ref
from sriov_operator.runtime import leader
from sriov_operator.runtime.logging import configure_logging
from tests.docs_examples import example


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


NODE_STATE = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovNetworkNodeState",
    "metadata": {"name": "worker-0", "namespace": "sriov-network-operator", "uid": "u-1"},
}


def test_ref_names_namespaced_and_cluster_scoped_objects() -> None:
    assert ref(NODE_STATE) == "SriovNetworkNodeState/sriov-network-operator/worker-0"
    assert ref({"kind": "Node", "metadata": {"name": "worker-0"}}) == "Node/worker-0"
    assert ref("ConfigMap", "ns", "cm") == "ConfigMap/ns/cm"
    assert ref(ObjectRef(kind="Lease", name="l", namespace="ns")) == "Lease/ns/l"
    assert ObjectRef.of(NODE_STATE).to_api() == {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeState",
        "name": "worker-0",
        "namespace": "sriov-network-operator",
        "uid": "u-1",
    }


def test_text_lines_are_key_value_with_the_object(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("text", "info", stream)
    logging.getLogger("sriov_operator.test").info("applied %d VFs", 8, extra={"object": ref(NODE_STATE)})
    logging.getLogger("sriov_operator.test").debug("not shown")
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert line.startswith("time=")
    assert 'level=INFO logger=sriov_operator.test msg="applied 8 VFs" ' in line
    assert line.endswith("object=SriovNetworkNodeState/sriov-network-operator/worker-0")


def test_json_lines_carry_the_same_fields(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed", extra={"object": "Node/n1", "controller": "nodes"})
    record = json.loads(stream.getvalue())
    assert record["level"] == "ERROR"
    assert record["msg"] == "failed"
    assert record["object"] == "Node/n1"
    assert record["controller"] == "nodes"
    assert "ValueError: boom" in record["error"]


def test_the_documented_line_is_what_the_leader_logs(restore_root_logger: None) -> None:
    template = "acquired the leader Lease as %s"
    assert f'"{template}"' in Path(leader.__file__).read_text()
    stream = io.StringIO()
    configure_logging("text", "info", stream)
    lease = ref("Lease", "sriov-network-operator", "sriov-fdp-operator")
    logging.getLogger(leader.__name__).info(template, "worker-0_4242", extra={"object": lease})
    [shown] = example("log-line").text.splitlines()
    any_time = re.compile(r"^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
    assert any_time.match(shown)
    assert any_time.sub("", stream.getvalue().strip()) == any_time.sub("", shown)
