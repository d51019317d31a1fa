"""A small OVSDB client (RFC 7047 JSON-RPC) over the server's unix socket.

Why our own: the official ``ovs`` Python bindings' IDL keeps a replica of the
whole database in threads of its own, and ``ovsdbapp`` builds on it; we need
one ``transact`` at a time.  The peer is treated as hostile input: every call
has a deadline, a reply may not grow past ``max_reply_bytes``, and a reply that
is not the JSON-RPC we asked for is an error naming the socket.

One connection per call: the daemon calls rarely, and nothing is left half-open
when the server restarts between two passes.
"""

from __future__ import annotations

import codecs
import json
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sriov_operator.errors import HostError

DATABASE = "Open_vSwitch"
TIMEOUT_SECONDS = 15.0  # upstream's default for an OVSDB call
MAX_REPLY_BYTES = 16 * 1024 * 1024
_CHUNK = 65536


class OvsdbError(HostError):
    """The OVSDB server could not be reached, misbehaved, or refused a transaction; the message says which."""


def ovs_map(values: Mapping[str, str]) -> list[Any]:
    """An OVSDB map value (``["map", [[key, value], ...]]``), keys sorted."""
    return ["map", [[key, values[key]] for key in sorted(values)]]


def ovs_set(values: Sequence[Any]) -> list[Any]:
    """An OVSDB set value (``["set", [...]]``)."""
    return ["set", list(values)]


def from_map(value: Any) -> dict[str, str]:
    """A map column as a dict; anything else (a hostile or newer server) is an OvsdbError."""
    if not (isinstance(value, list) and len(value) == 2 and value[0] == "map" and isinstance(value[1], list)):
        raise OvsdbError(f"expected an OVSDB map, got {str(value)[:80]}")
    pairs = value[1]
    if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs):
        raise OvsdbError(f"expected string keys and values in an OVSDB map, got {str(value)[:80]}")
    return {key: item for key, item in pairs}


def from_set(value: Any) -> list[Any]:
    """A set column as a list: OVSDB writes a one-element set as the bare atom."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set" and isinstance(value[1], list):
        return list(value[1])
    return [value]


def uuid_of(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and value[0] == "uuid" and isinstance(value[1], str):
        return value[1]
    raise OvsdbError(f"expected an OVSDB uuid, got {str(value)[:80]}")


@dataclass(frozen=True)
class OvsdbClient:
    """``transact`` against the server at ``socket_path`` (``ovsdb-server --remote=punix:<path>``)."""

    socket_path: Path
    timeout_seconds: float = TIMEOUT_SECONDS
    max_reply_bytes: int = MAX_REPLY_BYTES

    def transact(self, operations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run ``operations`` as one transaction; their results, or OvsdbError naming the failed one."""
        results = self._call("transact", [DATABASE, *operations])
        if not isinstance(results, list) or not all(isinstance(r, dict) or r is None for r in results):
            raise OvsdbError(f"{self.socket_path}: transact answered {str(results)[:120]}, not a result list")
        for index, result in enumerate(results):
            if result is not None and "error" in result:
                what = (
                    f"operation {index} ({operations[index].get('op')})"
                    if index < len(operations)
                    else "commit"
                )
                detail = str(result.get("details", ""))[:300]
                raise OvsdbError(
                    f"{self.socket_path}: {what} failed: {str(result['error'])[:100]} {detail}".strip()
                )
        return [r or {} for r in results]

    def select(self, table: str, columns: Sequence[str]) -> list[dict[str, Any]]:
        """Every row of ``table`` with ``columns``."""
        [result] = self.transact([{"op": "select", "table": table, "where": [], "columns": list(columns)}])
        rows = result.get("rows")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise OvsdbError(f"{self.socket_path}: select on {table} answered no rows list")
        return rows

    def _call(self, method: str, params: list[Any]) -> Any:
        deadline = time.monotonic() + self.timeout_seconds
        request = json.dumps({"method": method, "params": params, "id": 0}).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(self.timeout_seconds)
                conn.connect(str(self.socket_path))
                conn.sendall(request)
                return self._reply(conn, deadline)
        except FileNotFoundError:
            raise OvsdbError(
                f"{self.socket_path}: no OVSDB socket (is Open vSwitch installed and running on the host?)"
            ) from None
        except TimeoutError:
            raise OvsdbError(
                f"{self.socket_path}: no answer to {method} within {self.timeout_seconds:g} s"
            ) from None
        except OSError as error:
            raise OvsdbError(f"{self.socket_path}: {error.strerror or error}") from None

    def _reply(self, conn: socket.socket, deadline: float) -> Any:
        """Read messages until the reply to our request (id 0); answer the server's echo keep-alives."""
        buffer = ""
        decoder = json.JSONDecoder()
        # a chunk may end inside a character
        text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            message, buffer = self._next_message(conn, buffer, decoder, text_decoder, deadline)
            if not isinstance(message, dict):
                raise OvsdbError(f"{self.socket_path}: sent {str(message)[:80]}, not a JSON-RPC object")
            if message.get("method") == "echo" and "id" in message:
                conn.sendall(
                    json.dumps({"result": message.get("params"), "error": None, "id": message["id"]}).encode()
                )
                continue
            if message.get("id") != 0 or "result" not in message:
                continue  # a notification, or a reply to nothing we asked: ignored
            if message.get("error") is not None:
                raise OvsdbError(f"{self.socket_path}: {str(message['error'])[:200]}")
            return message["result"]

    def _next_message(
        self,
        conn: socket.socket,
        buffer: str,
        decoder: json.JSONDecoder,
        text_decoder: codecs.IncrementalDecoder,
        deadline: float,
    ) -> tuple[Any, str]:
        while True:
            text = buffer.lstrip()
            if text:
                try:
                    message, end = decoder.raw_decode(text)
                    return message, text[end:]
                except json.JSONDecodeError:
                    pass  # incomplete (or garbage: the size cap and the deadline end it)
                except RecursionError:
                    raise OvsdbError(f"{self.socket_path}: sent JSON nested too deeply") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            conn.settimeout(remaining)
            chunk = conn.recv(_CHUNK)
            if not chunk:
                raise OvsdbError(f"{self.socket_path}: the server closed the connection before answering")
            buffer = text + text_decoder.decode(chunk)
            if len(buffer) > self.max_reply_bytes:
                raise OvsdbError(f"{self.socket_path}: reply larger than {self.max_reply_bytes} bytes")
