"""The admission server's connection limits on a real TLS socket (127.0.0.1): each knob, and fd exhaustion.

Each test waits for the server's own action (a status line, or the connection
closed); ``HANG_GUARD`` only turns a server that never acts (as before these
limits) into a failure instead of a hung test.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import socket
import ssl
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from sriov_operator.webhook.connections import (
    BurstMemory,
    ConnectionLimits,
    QuietAcceptErrors,
    effective_cap,
    give_back_free_memory,
)
from sriov_operator.webhook.server import PODS_PATH, VALIDATE_PATH, ServerSettings
from tests.unit.webhook.serving import FixedCluster, pod_review, post, serving
from tests.waiting import eventually

HANG_GUARD = 30.0
SHORT = 0.3  # the timeout under test
LONG = 60.0  # the timeouts not under test


def _settings(**limits: float) -> ServerSettings:
    values = {"max_connections": 64, "header_timeout": LONG, "body_timeout": LONG, "idle_timeout": LONG}
    values.update(limits)
    return ServerSettings("127.0.0.1", 0, limits=ConnectionLimits(**values))  # type: ignore[arg-type]


def _dropped(reason: str) -> float:
    value = REGISTRY.get_sample_value("sriov_operator_webhook_connections_dropped_total", {"reason": reason})
    return value or 0.0


async def _connect(port: int, context: ssl.SSLContext) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, ssl=context)


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), HANG_GUARD)


async def test_an_idle_connection_after_the_handshake_is_closed(tmp_path: Path) -> None:
    async with serving(tmp_path, _settings(idle_timeout=SHORT)) as (server, context):
        before = _dropped("idle")
        reader, writer = await _connect(server.port, context)
        assert await _answer(reader) == b""  # closed by the server, nothing sent
        assert _dropped("idle") == before + 1
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_its_answer(tmp_path: Path) -> None:
    async with serving(tmp_path, _settings(idle_timeout=SHORT)) as (server, context):
        reader, writer = await _connect(server.port, context)
        writer.write(post(PODS_PATH, pod_review()))
        answer = await _answer(reader)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
        assert b'"allowed": true' in answer
        writer.close()


async def test_slow_headers_get_a_408_and_the_connection_closed(tmp_path: Path) -> None:
    async with serving(tmp_path, _settings(header_timeout=SHORT)) as (server, context):
        reader, writer = await _connect(server.port, context)
        writer.write(b"POST /validating-custom-resource HTTP/1.1\r\nHost: 127.0.0.1\r\n")

        async def trickle() -> None:  # a header byte now and then: never idle, never complete
            while not writer.is_closing():
                writer.write(b"X")
                await asyncio.sleep(SHORT / 4)

        trickling = asyncio.create_task(trickle())
        answer = await _answer(reader)
        trickling.cancel()
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer[:100]
        assert b"request headers not complete within 0.3 s" in answer
        writer.close()


@pytest.mark.parametrize("sent", [0, 10])
async def test_a_body_shorter_than_its_content_length_gets_a_400(tmp_path: Path, sent: int) -> None:
    async with serving(tmp_path, _settings(body_timeout=SHORT)) as (server, context):
        reader, writer = await _connect(server.port, context)
        body = pod_review()
        writer.write(post(VALIDATE_PATH, body[:sent], content_length=len(body)))
        answer = await _answer(reader)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
        assert (
            f"malformed AdmissionReview: body: {sent} of {len(body)} bytes arrived within 0.3 s".encode()
            in answer
        )
        writer.close()


async def test_a_body_longer_than_its_content_length_gets_a_400_not_a_reset(tmp_path: Path) -> None:
    async with serving(tmp_path, _settings()) as (server, context):
        reader, writer = await _connect(server.port, context)
        body = pod_review()
        writer.write(post(PODS_PATH, body, content_length=len(body) - 20))
        answer = await _answer(reader)  # the HTTP parser refuses the rest as a request line
        assert answer.startswith((b"HTTP/1.0 400 Bad Request", b"HTTP/1.1 400")), answer[:100]
        assert b"Invalid method encountered" in answer or b"malformed AdmissionReview" in answer
        writer.close()


async def test_connections_above_the_cap_get_a_503(tmp_path: Path) -> None:
    async with serving(tmp_path, _settings(max_connections=3)) as (server, context):
        held = [await _connect(server.port, context) for _ in range(3)]
        before = _dropped("cap")
        reader, writer = await _connect(server.port, context)
        answer = await _answer(reader)
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable"), answer[:100]
        assert b"webhook busy: 3 connections open; retry" in answer
        assert _dropped("cap") == before + 1
        writer.close()
        _, first = held.pop()
        first.close()  # a slot frees up: the next connection is served
        await first.wait_closed()
        while len(server.connections.open) >= 3:
            await asyncio.sleep(0.01)
        reader, writer = await _connect(server.port, context)
        writer.write(post(PODS_PATH, pod_review()))
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        for _, other in [*held, (reader, writer)]:
            other.close()


async def test_connections_beyond_the_cap_and_the_handshake_queue_are_reset_at_once(tmp_path: Path) -> None:
    """In a burst the ones that cannot be served in time are refused by a reset, not held and dropped."""
    async with serving(tmp_path, _settings(max_connections=2, handshakes=1)) as (server, context):
        held = [await _connect(server.port, context) for _ in range(2)]
        _, waiting = await asyncio.open_connection("127.0.0.1", server.port)  # no ClientHello: in the queue
        await eventually(lambda: len(server.connections.accepted) >= 3, "the third connection accepted")
        before = _dropped("refused")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), HANG_GUARD)
        assert _dropped("refused") == before + 1
        for other in [waiting, writer, *(w for _, w in held)]:
            other.close()


async def test_a_review_that_cannot_be_decided_in_time_gets_a_503(tmp_path: Path) -> None:
    settings = ServerSettings("127.0.0.1", 0, review_timeout=SHORT)
    async with serving(tmp_path, settings, FixedCluster(stall=True)) as (server, context):
        reader, writer = await _connect(server.port, context)
        writer.write(post(PODS_PATH, pod_review()))
        status = await asyncio.wait_for(reader.readline(), HANG_GUARD)
        assert status.startswith(b"HTTP/1.1 503"), status
        writer.close()


def test_the_cap_stays_below_the_open_file_limit() -> None:
    assert effective_cap(512, 256) == 144  # 3/4 of (256 - 64 reserved)
    assert effective_cap(100, 1 << 20) == 100
    assert effective_cap(512, 10) == 1


def test_accept_errors_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    handler = QuietAcceptErrors(interval=10.0, clock=lambda: now[0])
    loop = asyncio.new_event_loop()
    context = {"message": "socket.accept() out of system resource", "exception": OSError(24, "Too many")}
    for step in range(3000):  # 3,000 failed accepts over 30 s
        now[0] = step / 100
        handler(loop, context)
    loop.close()
    lines = [r for r in caplog.records if "cannot accept connections" in r.getMessage()]
    assert len(lines) == 3
    assert "(999 more since the last message)" in lines[1].getMessage()


def test_out_of_file_handles_sheds_load_and_logs_once_per_interval(tmp_path: Path) -> None:
    """A webhook process with 256 file handles: its cap is 144; with every handle gone it logs one line
    (not one per queued connection), and serves again once handles are back."""

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    log_path = tmp_path / "child.log"  # a file, not a pipe: a flood must not block the child
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.unit.webhook.fd_child", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log_path.open("w"),
        text=True,
        preexec_fn=low_limit,  # noqa: PLW1509 - only setrlimit, before exec
    )
    assert child.stdin is not None and child.stdout is not None

    def ask(command: str) -> str:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(command + "\n")
        child.stdin.flush()
        return child.stdout.readline().strip()

    try:
        words = child.stdout.readline().split()
        assert words[0] == "port", [*words, log_path.read_text()]
        port, cap = int(words[1]), int(words[3])
        assert cap == 144
        assert ask("exhaust") == "exhausted"
        waiting = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
        while "accept" not in log_path.read_text():  # the first failed accept() is logged
            time.sleep(0.05)
        for sock in waiting:
            sock.close()
        assert ask("release") == "released"
        status = asyncio.run(_one_pod_review(port))
        assert status.startswith(b"HTTP/1.1 200"), status
    finally:
        if child.poll() is None:
            child.stdin.write("stop\n")
            child.stdin.flush()
        child.wait(timeout=HANG_GUARD)
    log = log_path.read_text()
    assert "out of system resource" not in log  # asyncio's own line, one per queued connection
    assert 1 <= log.count("cannot accept connections") <= 2, log[-2000:]


async def _one_pod_review(port: int) -> bytes:
    """A pod review's status line, retried while the server still refuses connections (it first
    works through the connections queued while it had no file handles)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the child's own certificate; trust is not what this test is about
    async with asyncio.timeout(HANG_GUARD):
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
                writer.write(post(PODS_PATH, pod_review()))
                status = await reader.readline()
                writer.close()
                if status:
                    return status
            except ConnectionError:
                await asyncio.sleep(0.1)


async def test_a_request_whose_headers_took_the_whole_review_budget_gets_a_503_undecided(
    tmp_path: Path,
) -> None:
    """The review deadline runs from the request's first byte: a client that trickles its headers
    past it gets a 503 before any decision is made (an answer after the API server's timeout is lost)."""
    settings = ServerSettings(
        "127.0.0.1", 0, limits=ConnectionLimits(header_timeout=LONG), review_timeout=SHORT
    )
    source = FixedCluster()
    async with serving(tmp_path, settings, source) as (server, context):
        reader, writer = await _connect(server.port, context)
        request = post(PODS_PATH, pod_review())
        head, body = request.split(b"\r\n\r\n", 1)
        loop = asyncio.get_running_loop()
        first = loop.time()
        for byte in head:  # one header byte at a time until the review's budget is spent, thrice over
            writer.write(bytes([byte]))
            await writer.drain()
            if loop.time() - first < 3 * SHORT:
                await asyncio.sleep(3 * SHORT / len(head))
        writer.write(b"\r\n\r\n" + body)
        answer = await asyncio.wait_for(reader.readline(), HANG_GUARD)
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert source.asked == 0
        writer.close()


async def test_stopping_the_server_drops_connections_still_before_their_handshake(tmp_path: Path) -> None:
    async with serving(tmp_path, _settings()) as (server, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)  # no ClientHello
        while not server.connections.accepted:
            await asyncio.sleep(0.01)
    assert await asyncio.wait_for(reader.read(), HANG_GUARD) == b""
    assert not server.connections.accepted
    writer.close()


def test_free_memory_is_given_back_once_per_burst_when_it_has_ended() -> None:
    trims: list[int] = []
    memory = BurstMemory(high=4, low=1, trim=lambda: trims.append(1) or 1)
    for accepted in (1, 2, 3, 2, 1, 0):  # steady traffic never reaches a burst
        (memory.opened if accepted > 0 else memory.closed)(accepted)
    for accepted in (1, 2, 3, 4, 5):
        memory.opened(accepted)
    for accepted in (4, 3, 2):
        memory.closed(accepted)
    assert trims == []  # still under way
    memory.closed(1)
    memory.closed(0)
    assert trims == [1]


class _Connection:
    """Stands for a closed connection's objects: they refer to each other, as protocol and transport do."""

    def __init__(self) -> None:
        self.peer: _Connection = self


def test_giving_memory_back_first_frees_the_cycles_a_burst_left() -> None:
    collecting = gc.isenabled()
    gc.disable()  # as between two runs of the oldest generation
    try:
        left = weakref.ref(_Connection())
        assert left() is not None  # only a collection frees a cycle
        give_back_free_memory()
        assert left() is None
    finally:
        if collecting:
            gc.enable()
