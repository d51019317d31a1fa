"""The Nova metadata client against a real HTTP server on 127.0.0.1 with faults."""

from __future__ import annotations

import json
import socket

import pytest

from sriov_operator.host.openstack.metadata import MetadataError
from sriov_operator.host.openstack.metadata_service import MetadataServiceSettings, read_metadata_service
from tests.host.conftest import MetadataServer
from tests.support import FIXTURES

pytestmark = pytest.mark.host
BASE = "/openstack/2018-08-27/"
META = (FIXTURES / "openstack/meta_data.json").read_bytes()
NETWORK = (FIXTURES / "openstack/network_data.json").read_bytes()


def settings(server: MetadataServer, sleeps: list[float], **overrides: object) -> MetadataServiceSettings:
    values: dict[str, object] = {"base_url": server.url, "timeout_seconds": 1.0, "sleep": sleeps.append}
    return MetadataServiceSettings(**{**values, **overrides})  # type: ignore[arg-type]


def test_reads_both_documents(metadata_server: MetadataServer) -> None:
    metadata_server.serve(BASE + "meta_data.json", (200, META, 0.0))
    metadata_server.serve(BASE + "network_data.json", (200, NETWORK, 0.0))
    sleeps: list[float] = []
    metadata = read_metadata_service(settings(metadata_server, sleeps))
    assert [d.address for d in metadata.meta_data.devices] == ["0000:00:06.0", "0000:00:07.0"]
    assert len(metadata.network_data.networks) == 4 and sleeps == []


def test_500_then_success_is_retried_with_backoff(metadata_server: MetadataServer) -> None:
    metadata_server.serve(
        BASE + "meta_data.json", (500, b"oops", 0.0), (429, b"slow down", 0.0), (200, META, 0.0)
    )
    metadata_server.serve(BASE + "network_data.json", (200, NETWORK, 0.0))
    sleeps: list[float] = []
    read_metadata_service(settings(metadata_server, sleeps))
    assert sleeps == [1.0, 2.0] and metadata_server.hits[BASE + "meta_data.json"] == 3


def test_persistent_5xx_gives_up_after_five_attempts(metadata_server: MetadataServer) -> None:
    metadata_server.serve(BASE + "meta_data.json", (503, b"down", 0.0))
    sleeps: list[float] = []
    with pytest.raises(MetadataError, match=r"unreachable after 5 attempts: HTTP 503"):
        read_metadata_service(settings(metadata_server, sleeps))
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_404_fails_at_once_naming_the_url(metadata_server: MetadataServer) -> None:
    sleeps: list[float] = []
    with pytest.raises(
        MetadataError, match=r"127\.0\.0\.1:\d+/openstack/2018-08-27/meta_data.json: not found"
    ):
        read_metadata_service(settings(metadata_server, sleeps))
    assert sleeps == []


def test_slow_responses_time_out_and_are_retried(metadata_server: MetadataServer) -> None:
    metadata_server.serve(BASE + "meta_data.json", (200, META, 1.0), (200, META, 0.0))
    metadata_server.serve(BASE + "network_data.json", (200, NETWORK, 0.0))
    sleeps: list[float] = []
    read_metadata_service(settings(metadata_server, sleeps, timeout_seconds=0.3))
    assert sleeps == [1.0]


def test_truncated_json_is_a_clear_error(metadata_server: MetadataServer) -> None:
    metadata_server.serve(BASE + "meta_data.json", (200, META[: len(META) // 2], 0.0))
    metadata_server.serve(BASE + "network_data.json", (200, NETWORK, 0.0))
    with pytest.raises(MetadataError, match=r"meta_data.json is not valid JSON"):
        read_metadata_service(settings(metadata_server, []))


def test_oversized_body_is_refused(metadata_server: MetadataServer) -> None:
    metadata_server.serve_json(BASE + "meta_data.json", {"devices": [], "padding": "x" * 300_000})
    with pytest.raises(MetadataError, match=r"larger than 100000 bytes"):
        read_metadata_service(settings(metadata_server, [], max_bytes=100_000))


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    unused = MetadataServiceSettings(base_url=f"http://127.0.0.1:{free_port}", sleep=lambda _: None)
    with pytest.raises(MetadataError, match="unreachable after 5 attempts: cannot connect"):
        read_metadata_service(unused)
    assert json.dumps(unused.backoff_seconds) == "[1.0, 2.0, 4.0, 8.0]"
