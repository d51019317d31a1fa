"""The Nova metadata client against a real HTTP server on 127.0.0.1 with faults."""

from __future__ import annotations

import json
import re
import socket

import pytest

from sriov_operator.errors import BadInputError
from sriov_operator.host.openstack.metadata import MetadataError
from sriov_operator.host.openstack.metadata_service import MetadataServiceSettings, read_metadata_service
from tests.host.conftest import MetadataServer
from tests.support import FIXTURES

pytestmark = pytest.mark.host
BASE = "/openstack/2018-08-27/"
LATEST = "/openstack/latest/"
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
    with pytest.raises(MetadataError, match=r"127\.0\.0\.1:\d+/openstack/latest/meta_data.json: not found"):
        read_metadata_service(settings(metadata_server, sleeps))
    assert sleeps == [] and set(metadata_server.hits) == {BASE + "meta_data.json", LATEST + "meta_data.json"}


def test_a_service_without_the_dated_version_is_read_from_latest(metadata_server: MetadataServer) -> None:
    metadata_server.serve(LATEST + "meta_data.json", (200, META, 0.0))
    metadata_server.serve(LATEST + "network_data.json", (200, NETWORK, 0.0))
    metadata = read_metadata_service(settings(metadata_server, []))
    assert [d.address for d in metadata.meta_data.devices] == ["0000:00:06.0", "0000:00:07.0"]


def test_one_deadline_covers_headers_too(metadata_server: MetadataServer) -> None:
    """Headers trickled for about 3 s: each byte is in time, the document is not."""
    head = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 20 + b"\r\nContent-Length: 2\r\n\r\n"
    metadata_server.serve_raw(BASE + "meta_data.json", head + b"{}", seconds_per_byte=0.05)
    with pytest.raises(MetadataError, match=r"no complete answer within 0\.5 s"):
        read_metadata_service(settings(metadata_server, [], timeout_seconds=0.5, backoff_seconds=()))


def test_a_body_shorter_than_its_content_length_is_an_error(metadata_server: MetadataServer) -> None:
    metadata_server.serve_raw(BASE + "meta_data.json", b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n{}")
    metadata_server.serve(BASE + "network_data.json", (200, NETWORK, 0.0))
    with pytest.raises(MetadataError, match=r"body ended after 2 of 900 bytes"):
        read_metadata_service(settings(metadata_server, [], backoff_seconds=()))


def test_a_redirect_to_another_host_is_not_followed(metadata_server: MetadataServer) -> None:
    elsewhere = metadata_server.url.replace("127.0.0.1", "127.0.0.2") + BASE + "meta_data.json"
    moved = f"HTTP/1.1 302 Found\r\nLocation: {elsewhere}\r\nContent-Length: 0\r\n\r\n".encode()
    metadata_server.serve_raw(BASE + "meta_data.json", moved)
    with pytest.raises(MetadataError, match=r"redirected to another host \(http://127\.0\.0\.2"):
        read_metadata_service(settings(metadata_server, []))
    assert metadata_server.hits == {BASE + "meta_data.json": 1}


def test_a_same_host_redirect_is_followed(metadata_server: MetadataServer) -> None:
    moved = f"HTTP/1.1 301 Moved\r\nLocation: {LATEST}meta_data.json\r\nContent-Length: 0\r\n\r\n"
    metadata_server.serve_raw(BASE + "meta_data.json", moved.encode())
    metadata_server.serve(LATEST + "meta_data.json", (200, META, 0.0))
    metadata_server.serve(BASE + "network_data.json", (200, NETWORK, 0.0))
    assert read_metadata_service(settings(metadata_server, [])).meta_data.devices


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"base_url": "file:///etc/passwd"}, "--metadata-url: 'file:///etc/passwd' is not an http://"),
        ({"base_url": "http://"}, "is not an http:// or https:// URL with a host"),
        ({"timeout_seconds": 0.0}, "--metadata-timeout: 0.0 is not a number of seconds"),
        ({"timeout_seconds": float("nan")}, "--metadata-timeout: nan"),
    ],
)
def test_bad_settings_are_usage_errors(overrides: dict[str, object], words: str) -> None:
    with pytest.raises(BadInputError, match=re.escape(words)):
        MetadataServiceSettings(**overrides)  # type: ignore[arg-type]


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
