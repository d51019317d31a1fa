"""The simulated host's Open vSwitch: its bridges kept in a JSON file, refusing what OVSDB refuses.

Present only once `install_ovs` made its database (a host without Open vSwitch
has no socket); like the real server it accepts any uplink name (ovs-vswitchd,
not OVSDB, finds out whether the netdev exists), refuses to touch a bridge the
operator did not create, and refuses a port that another bridge already has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.api.models import OVSConfigExt
from sriov_operator.host.ovs import FoundBridge, OvsState, port_names
from sriov_operator.host.ovsdb import OvsdbError

DATABASE = "var/run/openvswitch/simulated-ovsdb.json"


def install_ovs(root: Path, *, others: tuple[OVSConfigExt, ...] = ()) -> None:
    """An Open vSwitch on the simulated host, with ``others``: bridges someone else made."""
    path = root / DATABASE
    path.parent.mkdir(parents=True, exist_ok=True)
    bridges = [{"config": b.to_k8s(), "ours": False} for b in others]
    path.write_text(json.dumps({"hwOffload": False, "bridges": bridges}))


@dataclass(frozen=True)
class SimulatedOvs:
    root: Path

    def _load(self) -> dict[str, object] | None:
        path = self.root / DATABASE
        return json.loads(path.read_text()) if path.exists() else None

    def read(self) -> OvsState | None:
        data = self._load()
        if data is None:
            return None
        rows = data["bridges"]
        assert isinstance(rows, list)
        bridges = [FoundBridge(OVSConfigExt.model_validate(r["config"]), bool(r["ours"])) for r in rows]
        return OvsState(tuple(sorted(bridges, key=lambda b: b.config.name)), bool(data["hwOffload"]))

    def _save(self, state: OvsState) -> None:
        rows = [{"config": b.config.to_k8s(), "ours": b.ours} for b in state.bridges]
        (self.root / DATABASE).write_text(json.dumps({"hwOffload": state.hw_offload, "bridges": rows}))

    def _state(self) -> OvsState:
        state = self.read()
        if state is None:
            raise OvsdbError(f"{self.root / DATABASE}: no OVSDB socket (is Open vSwitch running?)")
        return state

    def ensure(self, bridge: OVSConfigExt) -> None:
        state = self._state()
        found = state.bridge(bridge.name)
        if found is not None and not found.ours:
            raise OvsdbError(f"bridge {bridge.name} exists and was not created by the operator; left alone")
        for port in port_names(bridge):
            holder = state.bridge_of_port(port)
            if holder is not None and holder.config.name != bridge.name:
                raise OvsdbError(f"constraint violation: port {port} is on bridge {holder.config.name}")
        others = tuple(b for b in state.bridges if b.config.name != bridge.name)
        self._save(OvsState((*others, FoundBridge(bridge, ours=True)), hw_offload=True))

    def remove(self, name: str) -> None:
        state = self._state()
        found = state.bridge(name)
        if found is None:
            return
        if not found.ours:
            raise OvsdbError(f"bridge {name} was not created by the operator; left alone")
        self._save(OvsState(tuple(b for b in state.bridges if b.config.name != name), state.hw_offload))
