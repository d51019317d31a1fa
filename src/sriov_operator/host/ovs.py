"""OVS bridges the operator manages (the manageSoftwareBridges feature gate), read and changed over OVSDB.

A bridge we create carries two external_ids: ``OWNER_KEY`` (ours) and
``UPLINK_KEY`` (its uplink PF's PCI address), so the daemon finds what it made
after a restart and never removes a bridge someone else made.  Each bridge has
its internal port (named as the bridge) and one uplink, the PF; creating or
updating one also sets ``other_config:hw-offload=true`` on the Open_vSwitch
record (ovs-vswitchd reads it when it starts; it is left on when our bridges go,
since other bridges may rely on it).

`bridge_view` and `normalized` are pure; `OvsdbBridges` is the channel the
executors use (`HostIO.ovs`), the simulator has its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sriov_operator.api.models import OVSBridgeConfig, OVSConfigExt, OVSInterfaceConfig, OVSUplinkConfigExt
from sriov_operator.host.ovsdb import OvsdbClient, OvsdbError, from_map, from_set, ovs_map, ovs_set, uuid_of
from sriov_operator.host.pci import is_pci_address

OWNER_KEY = "sriovnetwork.openshift.io/owner"
OWNER = "sriov-network-config-daemon"
UPLINK_KEY = "sriovnetwork.openshift.io/uplink"
HW_OFFLOAD = "hw-offload"
SOCKET_PATHS = ("var/run/openvswitch/db.sock", "run/openvswitch/db.sock")  # /var/run may be a link to /run
_OUR_KEYS = (OWNER_KEY, UPLINK_KEY)


@dataclass(frozen=True)
class FoundBridge:
    """A bridge as OVSDB has it: its configuration without our marks, and whether we made it."""

    config: OVSConfigExt
    ours: bool

    @property
    def uplink_pci(self) -> str | None:
        uplinks = self.config.uplinks or []
        return uplinks[0].pci_address if self.ours and uplinks else None


@dataclass(frozen=True)
class OvsState:
    bridges: tuple[FoundBridge, ...] = ()
    hw_offload: bool = False  # Open_vSwitch other_config:hw-offload is "true"

    def bridge(self, name: str) -> FoundBridge | None:
        return next((b for b in self.bridges if b.config.name == name), None)

    def bridge_of_port(self, port: str) -> FoundBridge | None:
        """The bridge with a port named ``port`` (an uplink already attached elsewhere)."""
        return next((b for b in self.bridges if port in port_names(b.config)), None)


class OvsBridges(Protocol):
    """The host's OVS, as the planner and the executors see it."""

    def read(self) -> OvsState | None:
        """None when the host runs no OVSDB server (no socket)."""

    def ensure(self, bridge: OVSConfigExt) -> None:
        """Create ``bridge`` (marked ours), or bring ours of that name to it; hw-offload on."""

    def remove(self, name: str) -> None:
        """Remove our bridge ``name`` (its ports go with it); refuses a bridge that is not ours."""


def port_names(config: OVSConfigExt) -> list[str]:
    return [uplink.name for uplink in config.uplinks or [] if uplink.name]


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def normalized(config: OVSConfigExt) -> dict[str, Any]:
    """The configuration as compared: an empty map, an empty string and an absent field are the same."""
    return dict(_drop_empty(config.to_k8s()))


def _optional(value: Any) -> str | None:
    """An OVSDB optional string column (a set of zero or one string)."""
    items = from_set(value)
    return items[0] if items and isinstance(items[0], str) and items[0] else None


def _interface_config(row: Mapping[str, Any]) -> OVSInterfaceConfig:
    mtu = from_set(row.get("mtu_request", ["set", []]))
    return OVSInterfaceConfig.model_validate(
        {
            "type": row.get("type") or None,
            "options": from_map(row.get("options", ["map", []])) or None,
            "externalIDs": from_map(row.get("external_ids", ["map", []])) or None,
            "other_config": from_map(row.get("other_config", ["map", []])) or None,
            "mtu_request": mtu[0] if mtu and isinstance(mtu[0], int) else None,
        }
    )


def bridge_view(
    bridge: Mapping[str, Any],
    ports: Mapping[str, Mapping[str, Any]],
    interfaces: Mapping[str, Mapping[str, Any]],
) -> FoundBridge:
    """One Bridge row (with the Port and Interface rows by uuid) as we report and compare it."""
    name = str(bridge.get("name", ""))
    external_ids = from_map(bridge.get("external_ids", ["map", []]))
    uplink_pci = external_ids.get(UPLINK_KEY, "")
    ours = external_ids.get(OWNER_KEY) == OWNER and is_pci_address(uplink_pci)
    uplinks = []
    for port_uuid in from_set(bridge.get("ports", ["set", []])):
        port = ports.get(uuid_of(port_uuid), {})
        for interface_uuid in from_set(port.get("interfaces", ["set", []])):
            interface = interfaces.get(uuid_of(interface_uuid), {})
            if interface.get("name") == name:
                continue  # the bridge's internal port
            uplinks.append(
                OVSUplinkConfigExt(
                    pci_address=uplink_pci if ours else "",
                    name=str(interface.get("name", "")) or None,
                    interface=_interface_config(interface),
                )
            )
    settings = OVSBridgeConfig.model_validate(
        {
            "datapath_type": bridge.get("datapath_type") or None,
            "externalIDs": {k: v for k, v in external_ids.items() if k not in _OUR_KEYS} or None,
            "other_config": from_map(bridge.get("other_config", ["map", []])) or None,
            "fail_mode": _optional(bridge.get("fail_mode", ["set", []])),
        }
    )
    return FoundBridge(OVSConfigExt(name=name, bridge=settings, uplinks=uplinks or None), ours)


_BRIDGE_COLUMNS = ["_uuid", "name", "ports", "datapath_type", "fail_mode", "external_ids", "other_config"]
_INTERFACE_COLUMNS = ["_uuid", "name", "type", "options", "external_ids", "other_config", "mtu_request"]


def _by_uuid(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {uuid_of(row.get("_uuid")): row for row in rows}


def _bridge_columns(bridge: OVSConfigExt) -> dict[str, Any]:
    settings = bridge.bridge or OVSBridgeConfig()
    uplink_pci = (bridge.uplinks or [OVSUplinkConfigExt(pci_address="")])[0].pci_address
    marks = {OWNER_KEY: OWNER, UPLINK_KEY: uplink_pci}
    return {
        "datapath_type": settings.datapath_type or "",
        "fail_mode": ovs_set([settings.fail_mode] if settings.fail_mode else []),
        "external_ids": ovs_map({**(settings.external_ids or {}), **marks}),
        "other_config": ovs_map(settings.other_config or {}),
    }


def _interface_columns(name: str, config: OVSInterfaceConfig | None) -> dict[str, Any]:
    config = config or OVSInterfaceConfig()
    return {
        "name": name,
        "type": config.type or "",
        "options": ovs_map(config.options or {}),
        "external_ids": ovs_map(config.external_ids or {}),
        "other_config": ovs_map(config.other_config or {}),
        "mtu_request": ovs_set([config.mtu_request] if config.mtu_request else []),
    }


def _port_operations(label: str, name: str, interface: dict[str, Any]) -> list[dict[str, Any]]:
    """Insert an Interface and its Port; the Port is ``["named-uuid", label]`` in the same transaction."""
    return [
        {"op": "insert", "table": "Interface", "row": interface, "uuid-name": f"{label}_if"},
        {
            "op": "insert",
            "table": "Port",
            "row": {"name": name, "interfaces": ["named-uuid", f"{label}_if"]},
            "uuid-name": label,
        },
    ]


def ensure_operations(
    bridge: OVSConfigExt, root_uuid: str, existing: Mapping[str, Any] | None, internal_port: str | None
) -> list[dict[str, Any]]:
    """One transaction: the bridge as ``bridge`` says, its internal port, its uplink, hw-offload on.

    An existing bridge (ours) is updated in place and keeps its internal port; its uplink
    port is replaced (the old one, no longer referenced, is dropped by OVSDB).
    """
    [uplink] = bridge.uplinks or []
    if not uplink.name:
        raise OvsdbError(f"bridge {bridge.name}: its uplink {uplink.pci_address} has no interface name")
    root = [["_uuid", "==", ["uuid", root_uuid]]]
    operations = [
        {"op": "mutate", "table": "Open_vSwitch", "where": root,
         "mutations": [["other_config", "delete", ovs_set([HW_OFFLOAD])]]},
        {"op": "mutate", "table": "Open_vSwitch", "where": root,
         "mutations": [["other_config", "insert", ovs_map({HW_OFFLOAD: "true"})]]},
        *_port_operations("uplink", uplink.name, _interface_columns(uplink.name, uplink.interface)),
    ]  # fmt: skip
    ports: list[Any] = [["named-uuid", "uplink"]]
    if internal_port is not None:
        ports.append(["uuid", internal_port])
    else:
        internal = {"name": bridge.name, "type": "internal"}
        operations += _port_operations("internal", bridge.name, internal)
        ports.append(["named-uuid", "internal"])
    columns = {**_bridge_columns(bridge), "ports": ovs_set(ports)}
    if existing is not None:
        where = [["_uuid", "==", existing["_uuid"]]]
        operations.append({"op": "update", "table": "Bridge", "where": where, "row": columns})
        return operations
    operations += [
        {"op": "insert", "table": "Bridge", "row": {"name": bridge.name, **columns}, "uuid-name": "bridge"},
        {"op": "mutate", "table": "Open_vSwitch", "where": root,
         "mutations": [["bridges", "insert", ovs_set([["named-uuid", "bridge"]])]]},
    ]  # fmt: skip
    return operations


@dataclass(frozen=True)
class _Rows:
    root: dict[str, Any] | None
    bridges: list[dict[str, Any]]
    ports: dict[str, dict[str, Any]]
    interfaces: dict[str, dict[str, Any]]

    def bridge(self, name: str) -> dict[str, Any] | None:
        return next((row for row in self.bridges if row.get("name") == name), None)

    def view(self, row: Mapping[str, Any]) -> FoundBridge:
        return bridge_view(row, self.ports, self.interfaces)


@dataclass(frozen=True)
class OvsdbBridges:
    """`OvsBridges` over the OVSDB server of the host at ``root`` (its socket under the root)."""

    root: Path
    timeout_seconds: float = 15.0

    def _client(self) -> OvsdbClient | None:
        path = next((self.root / p for p in SOCKET_PATHS if (self.root / p).exists()), None)
        return OvsdbClient(path, self.timeout_seconds) if path is not None else None

    def _rows(self, client: OvsdbClient) -> _Rows:
        roots = client.select("Open_vSwitch", ["_uuid", "bridges", "other_config"])
        return _Rows(
            roots[0] if roots else None,
            client.select("Bridge", _BRIDGE_COLUMNS),
            _by_uuid(client.select("Port", ["_uuid", "name", "interfaces"])),
            _by_uuid(client.select("Interface", _INTERFACE_COLUMNS)),
        )

    def read(self) -> OvsState | None:
        client = self._client()
        if client is None:
            return None
        rows = self._rows(client)
        other_config = from_map(rows.root.get("other_config", ["map", []])) if rows.root else {}
        bridges = tuple(sorted((rows.view(r) for r in rows.bridges), key=lambda b: b.config.name))
        return OvsState(bridges, other_config.get(HW_OFFLOAD) == "true")

    def _connected(self) -> tuple[OvsdbClient, _Rows]:
        client = self._client()
        if client is None:
            raise OvsdbError(f"{self.root / SOCKET_PATHS[1]}: no OVSDB socket (is Open vSwitch running?)")
        return client, self._rows(client)

    def ensure(self, bridge: OVSConfigExt) -> None:
        client, rows = self._connected()
        if rows.root is None:
            raise OvsdbError(f"{client.socket_path}: no Open_vSwitch record yet (ovs-vsctl init makes it)")
        existing = rows.bridge(bridge.name)
        if existing is not None and not rows.view(existing).ours:
            raise OvsdbError(f"bridge {bridge.name} exists and was not created by the operator; left alone")
        internal = None
        if existing is not None:
            for port_uuid in from_set(existing.get("ports", ["set", []])):
                if rows.ports.get(uuid_of(port_uuid), {}).get("name") == bridge.name:
                    internal = uuid_of(port_uuid)
        client.transact(ensure_operations(bridge, uuid_of(rows.root.get("_uuid")), existing, internal))

    def remove(self, name: str) -> None:
        client, rows = self._connected()
        existing = rows.bridge(name)
        if existing is None or rows.root is None:
            return
        if not rows.view(existing).ours:
            raise OvsdbError(f"bridge {name} was not created by the operator; left alone")
        root = [["_uuid", "==", rows.root["_uuid"]]]
        mutation = ["bridges", "delete", ovs_set([existing["_uuid"]])]
        client.transact([{"op": "mutate", "table": "Open_vSwitch", "where": root, "mutations": [mutation]}])
