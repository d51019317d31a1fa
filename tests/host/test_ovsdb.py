"""Our OVSDB client and bridge channel against a real ``ovsdb-server`` (Debian's openvswitch packages).

The server runs on a unix socket in the test's temporary directory with a database
made from the installed vswitch schema; no ovs-vswitchd is needed, since every
check reads the database itself.  A fake peer on another socket plays a hostile server.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriov_operator.api.models import OVSConfigExt
from sriov_operator.host.ovs import OWNER_KEY, UPLINK_KEY, OvsdbBridges
from sriov_operator.host.ovsdb import OvsdbClient, OvsdbError, from_map
from tests.waiting import eventually_blocking

pytestmark = pytest.mark.host

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
SOCKET = "var/run/openvswitch/db.sock"


def _require(program: str) -> str:
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if found is None or not SCHEMA.exists():
        pytest.fail(f"{program} or {SCHEMA} missing: apt-get install openvswitch-switch (scripts/test does)")
    return found


@pytest.fixture
def ovsdb_root(tmp_path: Path) -> Iterator[Path]:
    """A host root whose /var/run/openvswitch/db.sock is a real ovsdb-server with an initialised database."""
    database = tmp_path / "conf.db"
    subprocess.run([_require("ovsdb-tool"), "create", str(database), str(SCHEMA)], check=True)
    sock = tmp_path / SOCKET
    sock.parent.mkdir(parents=True)
    server = subprocess.Popen(
        [
            _require("ovsdb-server"), str(database), f"--remote=punix:{sock}",
            f"--unixctl={tmp_path / 'ovsdb.ctl'}", f"--log-file={tmp_path / 'ovsdb.log'}", "--no-chdir",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        eventually_blocking(lambda: sock.exists() or server.poll() is not None, "ovsdb-server's socket", 30)
        if server.poll() is not None:
            pytest.fail(f"ovsdb-server exited: {server.stderr.read().decode() if server.stderr else ''}")
        # what ovs-vsctl init does: the one Open_vSwitch record
        OvsdbClient(sock).transact([{"op": "insert", "table": "Open_vSwitch", "row": {}}])
        yield tmp_path
    finally:
        server.terminate()
        server.wait(15)


def _bridge(pci: str = "0000:3b:00.0", uplink: str = "ens1f0", **interface: object) -> OVSConfigExt:
    return OVSConfigExt.model_validate(
        {
            "name": f"br-{pci.replace(':', '_')}",
            "bridge": {"datapathType": "system", "failMode": "secure", "externalIDs": {"team": "net"}},
            "uplinks": [{"pciAddress": pci, "name": uplink, "interface": interface or None}],
        }
    )


def _raw_bridge(root: Path, name: str) -> dict[str, object]:
    rows = OvsdbClient(root / SOCKET).select("Bridge", ["name", "external_ids", "fail_mode", "ports"])
    [row] = [r for r in rows if r["name"] == name]
    return row


def test_create_reports_the_bridge_with_its_uplink_and_turns_hw_offload_on(ovsdb_root: Path) -> None:
    bridges = OvsdbBridges(ovsdb_root)
    assert bridges.read() is not None and bridges.read().bridges == ()  # type: ignore[union-attr]
    wanted = _bridge(type="system", mtuRequest=9000, options={"n_rxq": "2"})

    bridges.ensure(wanted)

    state = bridges.read()
    assert state is not None and state.hw_offload
    [found] = state.bridges
    assert found.ours and found.uplink_pci == "0000:3b:00.0"
    assert found.config == wanted  # our marks are not shown; the user's external_ids are
    raw = from_map(_raw_bridge(ovsdb_root, wanted.name)["external_ids"])
    assert raw[OWNER_KEY] and raw[UPLINK_KEY] == "0000:3b:00.0" and raw["team"] == "net"
    ports = OvsdbClient(ovsdb_root / SOCKET).select("Port", ["name"])
    assert sorted(p["name"] for p in ports) == sorted([wanted.name, "ens1f0"])  # internal port + uplink


def test_update_changes_the_bridge_in_place_and_replaces_the_uplink(ovsdb_root: Path) -> None:
    bridges = OvsdbBridges(ovsdb_root)
    bridges.ensure(_bridge(mtuRequest=1500))
    wanted = _bridge(mtuRequest=9000).model_copy(update={"bridge": None})

    bridges.ensure(wanted)

    [found] = bridges.read().bridges  # type: ignore[union-attr]
    assert found.config.uplinks and found.config.uplinks[0].interface
    assert found.config.uplinks[0].interface.mtu_request == 9000
    assert found.config.bridge is not None and found.config.bridge.fail_mode is None
    assert len(OvsdbClient(ovsdb_root / SOCKET).select("Port", ["name"])) == 2  # the old uplink port is gone


def test_remove_takes_our_bridge_and_its_ports_away_but_keeps_hw_offload(ovsdb_root: Path) -> None:
    bridges = OvsdbBridges(ovsdb_root)
    bridges.ensure(_bridge())

    bridges.remove(_bridge().name)

    state = bridges.read()
    assert state is not None and state.bridges == () and state.hw_offload
    assert OvsdbClient(ovsdb_root / SOCKET).select("Port", ["name"]) == []
    bridges.remove(_bridge().name)  # nothing left: nothing to do


def test_a_bridge_someone_else_made_is_reported_as_not_ours_and_never_removed(ovsdb_root: Path) -> None:
    client = OvsdbClient(ovsdb_root / SOCKET)
    [root] = client.select("Open_vSwitch", ["_uuid"])
    client.transact(
        [
            {"op": "insert", "table": "Bridge", "row": {"name": "br-ex"}, "uuid-name": "b"},
            {"op": "mutate", "table": "Open_vSwitch", "where": [["_uuid", "==", root["_uuid"]]],
             "mutations": [["bridges", "insert", ["set", [["named-uuid", "b"]]]]]},
        ]
    )  # fmt: skip
    bridges = OvsdbBridges(ovsdb_root)
    [found] = bridges.read().bridges  # type: ignore[union-attr]
    assert not found.ours and found.uplink_pci is None

    with pytest.raises(OvsdbError, match="br-ex was not created by the operator"):
        bridges.remove("br-ex")
    with pytest.raises(OvsdbError, match="br-ex exists and was not created by the operator"):
        bridges.ensure(_bridge().model_copy(update={"name": "br-ex"}))
    assert [b.config.name for b in bridges.read().bridges] == ["br-ex"]  # type: ignore[union-attr]


def test_a_refused_transaction_names_the_operation_and_the_reason(ovsdb_root: Path) -> None:
    client = OvsdbClient(ovsdb_root / SOCKET)
    with pytest.raises(OvsdbError, match=r"operation 0 \(insert\) failed: .*Nope"):
        client.transact([{"op": "insert", "table": "Nope", "row": {}}])


def test_no_socket_means_no_ovs_on_the_host(tmp_path: Path) -> None:
    assert OvsdbBridges(tmp_path).read() is None
    with pytest.raises(OvsdbError, match="no OVSDB socket"):
        OvsdbBridges(tmp_path).ensure(_bridge())


def _hostile_peer(path: Path, reply: bytes) -> threading.Thread:
    """Accepts one connection, reads the request, sends ``reply`` and keeps the connection open a while."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn, contextlib.suppress(OSError):  # the client may reset the connection
                conn.recv(65536)
                conn.sendall(reply)
                conn.recv(1)  # until the client gives up and closes

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"", "no answer to transact within 0.5 s"),
        (b'{"id": 0, "result": [', "no answer to transact within 0.5 s"),  # never completes
        (b"[" * 200_000, "nested too deeply|larger than"),
        (b"x" * 70_000, "larger than 65536 bytes"),
        (b'{"id": 0, "result": 5, "error": null}', "not a result list"),
        (b'{"id": 0, "result": null, "error": "bad"}', ": bad"),
    ],
)
def test_a_hostile_server_ends_in_a_one_line_error(tmp_path: Path, reply: bytes, expected: str) -> None:
    path = tmp_path / "hostile.sock"
    _hostile_peer(path, reply)
    client = OvsdbClient(path, timeout_seconds=0.5, max_reply_bytes=65536)
    with pytest.raises(OvsdbError, match=expected):
        client.transact([])


def test_the_server_echo_is_answered_before_the_reply(tmp_path: Path) -> None:
    path = tmp_path / "echo.sock"
    _hostile_peer(path, b'{"method": "echo", "params": [], "id": "e"}{"id": 0, "result": [], "error": null}')
    assert OvsdbClient(path, timeout_seconds=2).transact([]) == []
