"""Models of the seven ``sriovnetwork.openshift.io/v1`` kinds.

These classes are the single source of truth: ``deploy/crds/`` is generated from
them (``sriov-operator crds``) and a test fails if the checked-in YAML drifts.
Constraints here (enums, bounds, patterns, defaults) become the CRD's OpenAPI
schema, so the API server and the offline ``validate`` command agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from sriov_operator.api.base import ApiModel, LooseModel

RESOURCE_NAME_PATTERN = r"^[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$"
HEX_ID_PATTERN = r"^[0-9a-f]{4}$"

DeviceType = Literal["netdevice", "vfio-pci"]
LinkType = Literal["eth", "ETH", "ib", "IB"]
ESwitchMode = Literal["legacy", "switchdev"]
VdpaType = Literal["virtio", "vhost"]
RdmaMode = Literal["shared", "exclusive"]
SyncStatus = Literal["InProgress", "Succeeded", "Failed"]
OnOff = Literal["on", "off"]
NonNegativeInt = Annotated[int, Field(ge=0)]
VlanId = Annotated[int, Field(ge=0, le=4094)]
OvsVlanId = Annotated[int, Field(ge=0, le=4095)]


# ---------------------------------------------------------------- common parts
class ObjectMeta(LooseModel):
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    generation: int | None = None
    resource_version: str | None = None
    uid: str | None = None
    finalizers: list[str] | None = None
    owner_references: list[dict[str, Any]] | None = None
    deletion_timestamp: str | None = None


class Condition(ApiModel):
    """metav1.Condition, as written in our status additions."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime
    observed_generation: NonNegativeInt | None = None


class KubeObject(ApiModel):
    """Common envelope of every kind; subclasses fix ``KIND`` and the CRD names."""

    KIND: ClassVar[str]
    PLURAL: ClassVar[str]
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ()
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = ()

    api_version: Literal["sriovnetwork.openshift.io/v1"] = "sriovnetwork.openshift.io/v1"
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or ""


_AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


# ------------------------------------------------------------------ OVS bridges
class OVSBridgeConfig(ApiModel):
    datapath_type: str | None = None
    external_ids: dict[str, str] | None = Field(default=None, alias="externalIDs")
    other_config: dict[str, str] | None = None
    fail_mode: Literal["secure", "standalone"] | None = None


class OVSInterfaceConfig(ApiModel):
    type: str | None = None
    options: dict[str, str] | None = None
    external_ids: dict[str, str] | None = Field(default=None, alias="externalIDs")
    other_config: dict[str, str] | None = None
    mtu_request: Annotated[int, Field(ge=1)] | None = None


class OVSUplinkConfig(ApiModel):
    interface: OVSInterfaceConfig | None = None


class OVSConfig(ApiModel):
    bridge: OVSBridgeConfig | None = None
    uplink: OVSUplinkConfig | None = None


class Bridge(ApiModel):
    ovs: OVSConfig | None = None


class OVSUplinkConfigExt(ApiModel):
    pci_address: str
    name: str | None = None
    interface: OVSInterfaceConfig | None = None


class OVSConfigExt(ApiModel):
    name: str
    bridge: OVSBridgeConfig | None = None
    uplinks: list[OVSUplinkConfigExt] | None = None


class Bridges(ApiModel):
    ovs: list[OVSConfigExt] | None = None


# ------------------------------------------------------- SriovNetworkNodePolicy
class SriovNetworkNicSelector(ApiModel):
    vendor: Annotated[str, Field(pattern=HEX_ID_PATTERN)] | None = None
    device_id: Annotated[str, Field(pattern=HEX_ID_PATTERN)] | None = Field(default=None, alias="deviceID")
    root_devices: list[str] | None = None
    pf_names: list[str] | None = None
    net_filter: str | None = None


class SriovNetworkNodePolicySpec(ApiModel):
    resource_name: str = Field(pattern=RESOURCE_NAME_PATTERN, max_length=63, min_length=1)
    node_selector: dict[str, str]
    priority: int = Field(default=99, ge=0, le=99)
    mtu: Annotated[int, Field(ge=1)] | None = None
    num_vfs: int = Field(ge=0)
    nic_selector: SriovNetworkNicSelector
    device_type: DeviceType = "netdevice"
    is_rdma: bool = False
    need_vhost_net: bool = False
    link_type: LinkType | None = None
    e_switch_mode: ESwitchMode | None = None
    vdpa_type: VdpaType | None = None
    exclude_topology: bool = False
    externally_managed: bool = False
    bridge: Bridge | None = None


class SriovNetworkNodePolicyStatus(ApiModel):
    """Our addition (upstream's is empty): where the policy landed."""

    matched_nodes: NonNegativeInt | None = None
    ready_nodes: NonNegativeInt | None = None
    conditions: list[Condition] | None = None


class SriovNetworkNodePolicy(KubeObject):
    KIND: ClassVar[str] = "SriovNetworkNodePolicy"
    PLURAL: ClassVar[str] = "sriovnetworknodepolicies"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("snnp",)
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = (
        {"name": "Resource", "type": "string", "jsonPath": ".spec.resourceName"},
        {"name": "Priority", "type": "integer", "jsonPath": ".spec.priority"},
        {"name": "NumVfs", "type": "integer", "jsonPath": ".spec.numVfs"},
        {"name": "Matched", "type": "integer", "jsonPath": ".status.matchedNodes"},
        {"name": "Ready", "type": "integer", "jsonPath": ".status.readyNodes"},
        _AGE_COLUMN,
    )
    kind: Literal["SriovNetworkNodePolicy"] = "SriovNetworkNodePolicy"
    spec: SriovNetworkNodePolicySpec
    status: SriovNetworkNodePolicyStatus | None = None


# -------------------------------------------------------- SriovNetworkNodeState
class VfGroup(ApiModel):
    resource_name: str | None = None
    device_type: DeviceType | None = None
    vf_range: str | None = None
    policy_name: str | None = None
    mtu: Annotated[int, Field(ge=1)] | None = None
    is_rdma: bool = False
    vdpa_type: VdpaType | None = None


class Interface(ApiModel):
    """One PF as the node should look (NodeState.spec.interfaces[])."""

    pci_address: str
    num_vfs: NonNegativeInt | None = None
    mtu: Annotated[int, Field(ge=1)] | None = None
    name: str | None = None
    link_type: LinkType | None = None
    e_switch_mode: ESwitchMode | None = None
    vf_groups: list[VfGroup] | None = None
    externally_managed: bool = False


class System(ApiModel):
    rdma_mode: RdmaMode | None = None


class SriovNetworkNodeStateSpec(ApiModel):
    interfaces: list[Interface] | None = None
    bridges: Bridges | None = None
    system: System | None = None


class VirtualFunction(ApiModel):
    name: str | None = None
    mac: str | None = None
    assigned: str | None = None
    driver: str | None = None
    pci_address: str
    vendor: str | None = None
    device_id: str | None = Field(default=None, alias="deviceID")
    vlan: int | None = Field(default=None, alias="Vlan")
    mtu: int | None = None
    vf_id: NonNegativeInt = Field(alias="vfID")
    vdpa_type: str | None = None
    representor_name: str | None = None
    guid: str | None = None


class InterfaceExt(ApiModel):
    """One discovered PF (NodeState.status.interfaces[]); on VMs, one PCI network function."""

    name: str | None = None
    mac: str | None = None
    driver: str | None = None
    pci_address: str
    vendor: str | None = None
    device_id: str | None = Field(default=None, alias="deviceID")
    net_filter: str | None = None
    mtu: int | None = None
    num_vfs: int | None = None
    link_speed: str | None = None
    link_type: str | None = None
    link_admin_state: str | None = None
    e_switch_mode: str | None = None
    externally_managed: bool = False
    totalvfs: int | None = Field(default=None, alias="totalvfs")
    vfs: list[VirtualFunction] | None = Field(default=None, alias="Vfs")
    alt_names: list[str] | None = None


class SriovNetworkNodeStateStatus(ApiModel):
    interfaces: list[InterfaceExt] | None = None
    bridges: Bridges | None = None
    system: System | None = None
    sync_status: SyncStatus | None = None
    last_sync_error: str | None = None
    conditions: list[Condition] | None = None  # ours: Ready, Progressing, Degraded, Draining


class SriovNetworkNodeState(KubeObject):
    KIND: ClassVar[str] = "SriovNetworkNodeState"
    PLURAL: ClassVar[str] = "sriovnetworknodestates"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("snns",)
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = (
        {"name": "Sync Status", "type": "string", "jsonPath": ".status.syncStatus"},
        {
            "name": "Desired Sync State",
            "type": "string",
            "jsonPath": ".metadata.annotations.sriovnetwork\\.openshift\\.io/desired-state",
        },
        {
            "name": "Current Sync State",
            "type": "string",
            "jsonPath": ".metadata.annotations.sriovnetwork\\.openshift\\.io/current-state",
        },
        _AGE_COLUMN,
    )
    kind: Literal["SriovNetworkNodeState"] = "SriovNetworkNodeState"
    spec: SriovNetworkNodeStateSpec = Field(default_factory=SriovNetworkNodeStateSpec)
    status: SriovNetworkNodeStateStatus | None = None


# ------------------------------------------------------------- network kinds
class NetworkStatus(ApiModel):
    conditions: list[Condition] | None = None


_NETWORK_COLUMNS: tuple[dict[str, str], ...] = (
    {"name": "Resource", "type": "string", "jsonPath": ".spec.resourceName"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    _AGE_COLUMN,
)


LinkState = Literal["auto", "enable", "disable"]


class NetworkSpecBase(ApiModel):
    """Fields every network kind has: which resource, where the NAD goes, and raw CNI JSON."""

    resource_name: str = Field(min_length=1)
    network_namespace: str | None = None
    capabilities: str | None = None
    ipam: str | None = None
    meta_plugins: str | None = None


class SriovNetworkSpec(NetworkSpecBase):
    vlan: VlanId = 0
    vlan_qos: Annotated[int, Field(ge=0, le=7)] = Field(default=0, alias="vlanQoS")
    vlan_proto: Literal["802.1q", "802.1Q", "802.1ad", "802.1AD"] | None = None
    spoof_chk: OnOff | None = None
    trust: OnOff | None = None
    link_state: LinkState | None = None
    min_tx_rate: NonNegativeInt | None = None
    max_tx_rate: NonNegativeInt | None = None
    log_level: Literal["panic", "error", "warning", "info", "debug", ""] = "info"
    log_file: str | None = None


class SriovNetwork(KubeObject):
    KIND: ClassVar[str] = "SriovNetwork"
    PLURAL: ClassVar[str] = "sriovnetworks"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = _NETWORK_COLUMNS
    kind: Literal["SriovNetwork"] = "SriovNetwork"
    spec: SriovNetworkSpec
    status: NetworkStatus | None = None


class SriovIBNetworkSpec(NetworkSpecBase):
    link_state: LinkState | None = None


class SriovIBNetwork(KubeObject):
    KIND: ClassVar[str] = "SriovIBNetwork"
    PLURAL: ClassVar[str] = "sriovibnetworks"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = _NETWORK_COLUMNS
    kind: Literal["SriovIBNetwork"] = "SriovIBNetwork"
    spec: SriovIBNetworkSpec
    status: NetworkStatus | None = None


class TrunkConfig(ApiModel):
    min_id: OvsVlanId | None = Field(default=None, alias="minID")
    max_id: OvsVlanId | None = Field(default=None, alias="maxID")
    id: OvsVlanId | None = None


class OVSNetworkSpec(NetworkSpecBase):
    bridge: str | None = None
    vlan: OvsVlanId | None = None
    mtu: NonNegativeInt | None = None
    trunk: list[TrunkConfig] | None = None
    interface_type: str | None = None


class OVSNetwork(KubeObject):
    KIND: ClassVar[str] = "OVSNetwork"
    PLURAL: ClassVar[str] = "ovsnetworks"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = _NETWORK_COLUMNS
    kind: Literal["OVSNetwork"] = "OVSNetwork"
    spec: OVSNetworkSpec
    status: NetworkStatus | None = None


# ------------------------------------------------------- SriovOperatorConfig
class SriovOperatorConfigSpec(ApiModel):
    config_daemon_node_selector: dict[str, str] | None = None
    enable_injector: bool = False
    enable_operator_webhook: bool = False
    log_level: Annotated[int, Field(ge=0, le=2)] | None = None
    disable_drain: bool = False
    enable_ovs_offload: bool = False
    configuration_mode: Literal["daemon", "systemd"] | None = None
    use_cdi: bool = Field(default=False, alias="useCDI")
    disable_plugins: list[Literal["mellanox"]] | None = None
    feature_gates: dict[str, bool] | None = None
    config_daemon_env_vars: dict[str, str] | None = None


class SriovOperatorConfigStatus(ApiModel):
    injector: str | None = None
    operator_webhook: str | None = None
    conditions: list[Condition] | None = None


class SriovOperatorConfig(KubeObject):
    KIND: ClassVar[str] = "SriovOperatorConfig"
    PLURAL: ClassVar[str] = "sriovoperatorconfigs"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = (
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        _AGE_COLUMN,
    )
    kind: Literal["SriovOperatorConfig"] = "SriovOperatorConfig"
    spec: SriovOperatorConfigSpec = Field(default_factory=SriovOperatorConfigSpec)
    status: SriovOperatorConfigStatus | None = None


# ---------------------------------------------------- SriovNetworkPoolConfig
class LabelSelectorRequirement(ApiModel):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class LabelSelector(ApiModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class OvsHardwareOffloadConfig(ApiModel):
    name: str | None = None


MAX_UNAVAILABLE_PATTERN = r"^(100|[1-9][0-9]?)%$"


class SriovNetworkPoolConfigSpec(ApiModel):
    node_selector: LabelSelector | None = None
    max_unavailable: NonNegativeInt | Annotated[str, Field(pattern=MAX_UNAVAILABLE_PATTERN)] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-int-or-string": True}
    )
    rdma_mode: RdmaMode | None = None
    ovs_hardware_offload_config: OvsHardwareOffloadConfig | None = None


class SriovNetworkPoolConfig(KubeObject):
    KIND: ClassVar[str] = "SriovNetworkPoolConfig"
    PLURAL: ClassVar[str] = "sriovnetworkpoolconfigs"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = (
        {"name": "MaxUnavailable", "type": "string", "jsonPath": ".spec.maxUnavailable"},
        {"name": "RdmaMode", "type": "string", "jsonPath": ".spec.rdmaMode"},
        _AGE_COLUMN,
    )
    kind: Literal["SriovNetworkPoolConfig"] = "SriovNetworkPoolConfig"
    spec: SriovNetworkPoolConfigSpec = Field(default_factory=SriovNetworkPoolConfigSpec)
    status: dict[str, Any] | None = None


ALL_KINDS: tuple[type[KubeObject], ...] = (
    SriovNetworkNodePolicy,
    SriovNetworkNodeState,
    SriovNetwork,
    SriovIBNetwork,
    OVSNetwork,
    SriovOperatorConfig,
    SriovNetworkPoolConfig,
)
KIND_BY_NAME: dict[str, type[KubeObject]] = {k.KIND: k for k in ALL_KINDS}
