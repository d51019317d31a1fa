"""What Open vSwitch and the kernel say about the guest's OVS bridges, as JSON (standard library only).

Read with the tools an administrator uses, not with the operator's own OVSDB client: ``ovs-vsctl``
for the database (bridges, their ports and interfaces, the Open_vSwitch record's other_config),
``ip -d link`` for the kernel's datapath (which netdevs ovs-vswitchd attached to ``ovs-system``, their
MTU) and ``tc qdisc`` (the ingress qdiscs ovs-vswitchd adds where it offloads flows to tc).  It first
waits until ovs-vswitchd has applied the database as it is (see `synced`), so what the kernel shows
is what ovs-vswitchd made of the last change.

Usage: ``python3 ovs_facts.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
from typing import Any


def _run(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


def synced() -> None:
    """Return once ovs-vswitchd has applied every change so far.

    ovs-vsctl without ``--no-wait`` bumps ``next_cfg`` and waits until ovs-vswitchd reports it in
    ``cur_cfg``; it has then reconfigured from the whole database, whoever changed it (the operator
    writes over OVSDB and does not wait).  The value set is the one services.sh set.
    """
    hostname = f"external_ids:hostname={socket.gethostname()}"
    _run("ovs-vsctl", "--timeout=120", "set", "Open_vSwitch", ".", hostname)


def _datum(value: Any) -> Any:
    """An OVSDB JSON datum as plain JSON: a map as an object, a set as a list, a uuid as its string."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return {str(k): _datum(v) for k, v in value[1]}
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return [_datum(v) for v in value[1]]
    if isinstance(value, list) and len(value) == 2 and value[0] == "uuid":
        return value[1]
    return value


def table(name: str, columns: list[str]) -> list[dict[str, Any]]:
    """Every row of an OVSDB table, through ``ovs-vsctl list``."""
    answer = json.loads(_run("ovs-vsctl", "-f", "json", f"--columns={','.join(columns)}", "list", name))
    return [dict(zip(answer["headings"], (_datum(v) for v in row), strict=True)) for row in answer["data"]]


def _as_list(value: Any) -> list[Any]:
    """A set column of one member comes as the bare member."""
    return value if isinstance(value, list) else [value]


def _optional(value: Any) -> Any:
    return None if value == [] else value


def bridges() -> dict[str, Any]:
    ports = {row["_uuid"]: row for row in table("Port", ["_uuid", "name", "interfaces"])}
    interfaces = {row["_uuid"]: row for row in table("Interface", ["_uuid", "name", "type", "mtu_request"])}
    found = {}
    for row in table("Bridge", ["name", "ports", "fail_mode", "external_ids", "datapath_type"]):
        members = [ports[uuid] for uuid in _as_list(row["ports"])]
        found[row["name"]] = {
            "ports": sorted(port["name"] for port in members),
            "interfaces": {
                interfaces[uuid]["name"]: {
                    "type": interfaces[uuid]["type"],
                    "mtuRequest": _optional(interfaces[uuid]["mtu_request"]),
                }
                for port in members
                for uuid in _as_list(port["interfaces"])
            },
            "failMode": _optional(row["fail_mode"]),
            "externalIds": row["external_ids"],
            "datapathType": row["datapath_type"],
        }
    return found


def links() -> dict[str, Any]:
    return {
        link["ifname"]: {
            "kind": link.get("linkinfo", {}).get("info_kind"),  # "openvswitch": a datapath or internal port
            "master": link.get("master"),  # "ovs-system": a port of the kernel's datapath
            "slaveKind": link.get("linkinfo", {}).get("info_slave_kind"),
            "mtu": link.get("mtu"),
        }
        for link in json.loads(_run("ip", "-d", "-j", "link", "show"))
    }


def ingress_qdiscs() -> list[str]:
    qdiscs = json.loads(_run("tc", "-j", "qdisc", "show"))
    return sorted(q["dev"] for q in qdiscs if q.get("kind") == "ingress")


def facts() -> dict[str, Any]:
    synced()
    [root] = table("Open_vSwitch", ["other_config"])
    return {
        "bridges": bridges(),
        "otherConfig": root["other_config"],
        "links": links(),
        "ingressQdiscs": ingress_qdiscs(),
    }


if __name__ == "__main__":
    print(json.dumps(facts()))
