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

# What a Linux kernel accepts, so an accepted value can always be applied (docs/daemon.md, "Limits").
MIN_MTU = 68  # ETH_MIN_MTU: the smallest MTU IPv4 and every Ethernet/IPoIB driver take
MAX_MTU = 65535  # ETH_MAX_MTU / IP_MAX_MTU: no netdev accepts more
MAX_VFS = 65535  # the PCI SR-IOV TotalVFs field is 16 bits; sriov_numvfs is parsed as a u16
MAX_TX_RATE_MBPS = 4294967295  # IFLA_VF_RATE's min/max_tx_rate are u32 Mbit/s
MAX_INT32 = 2147483647  # an int-or-string's number is an int32 for Go clients
Int32Count = Annotated[int, Field(ge=0, le=MAX_INT32)]
Mtu = Annotated[int, Field(ge=MIN_MTU, le=MAX_MTU)]
VfCount = Annotated[int, Field(ge=0, le=MAX_VFS)]
TxRate = Annotated[int, Field(ge=0, le=MAX_TX_RATE_MBPS)]


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
    """Condition type, e.g. Ready, Progressing, Degraded, Draining."""
    status: Literal["True", "False", "Unknown"]
    """True, False or Unknown."""
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    """One CamelCase word that says why the condition has this status (documented per condition in docs/)."""
    message: str = Field(default="", max_length=32768)
    """What a person needs to know: what happened, where, and what to do."""
    last_transition_time: datetime
    """When status last changed."""
    observed_generation: NonNegativeInt | None = None
    """The metadata.generation of the object this condition was computed from."""


class KubeObject(ApiModel):
    """Common envelope of every kind; subclasses fix ``KIND`` and the CRD names."""

    KIND: ClassVar[str]
    PLURAL: ClassVar[str]
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ()
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = ()

    api_version: Literal["sriovnetwork.openshift.io/v1"] = "sriovnetwork.openshift.io/v1"
    """Always sriovnetwork.openshift.io/v1."""
    kind: str
    """The object's kind."""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata: name, namespace, labels, annotations."""

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
    """OVS datapath type of the bridge, e.g. netdev (DPDK) or system."""
    external_ids: dict[str, str] | None = Field(default=None, alias="externalIDs")
    """external_ids written on the OVS bridge record."""
    other_config: dict[str, str] | None = None
    """other_config written on the OVS bridge record."""
    fail_mode: Literal["secure", "standalone"] | None = None
    """OVS fail mode of the bridge: secure or standalone."""


class OVSInterfaceConfig(ApiModel):
    type: str | None = None
    """OVS interface type, e.g. dpdk."""
    options: dict[str, str] | None = None
    """options written on the OVS interface record."""
    external_ids: dict[str, str] | None = Field(default=None, alias="externalIDs")
    """external_ids written on the OVS interface record."""
    other_config: dict[str, str] | None = None
    """other_config written on the OVS interface record."""
    mtu_request: Mtu | None = None
    """MTU requested for the OVS interface, 68 to 65535."""


class OVSUplinkConfig(ApiModel):
    interface: OVSInterfaceConfig | None = None
    """Settings of the uplink's OVS interface."""


class OVSConfig(ApiModel):
    bridge: OVSBridgeConfig | None = None
    """Settings of the OVS bridge created for the PF."""
    uplink: OVSUplinkConfig | None = None
    """Settings of the PF as the bridge's uplink."""


class Bridge(ApiModel):
    ovs: OVSConfig | None = None
    """Create an OVS bridge with the selected PF as uplink (switchdev only)."""


class OVSUplinkConfigExt(ApiModel):
    pci_address: str
    """PCI address of the uplink PF, e.g. 0000:3b:00.0."""
    name: str | None = None
    """Kernel name of the uplink PF."""
    interface: OVSInterfaceConfig | None = None
    """Settings of the uplink's OVS interface."""


class OVSConfigExt(ApiModel):
    name: str
    """Name of the OVS bridge."""
    bridge: OVSBridgeConfig | None = None
    """Settings of the OVS bridge."""
    uplinks: list[OVSUplinkConfigExt] | None = None
    """The bridge's uplinks."""


class Bridges(ApiModel):
    ovs: list[OVSConfigExt] | None = None
    """OVS bridges."""


# ------------------------------------------------------- SriovNetworkNodePolicy
class SriovNetworkNicSelector(ApiModel):
    vendor: Annotated[str, Field(pattern=HEX_ID_PATTERN)] | None = None
    """PCI vendor ID of the PF, four lower-case hex digits without 0x, e.g. 8086 (Intel) or 15b3 (Mellanox).
    """
    device_id: Annotated[str, Field(pattern=HEX_ID_PATTERN)] | None = Field(default=None, alias="deviceID")
    """PCI device ID of the PF, four lower-case hex digits, e.g. 158b."""
    root_devices: list[str] | None = None
    """PCI addresses of the PFs to select, e.g. 0000:3b:00.0."""
    pf_names: list[str] | None = None
    """Kernel names of the PFs to select; pf#a-b selects only VFs a to b of pf, e.g. ens1f0#0-3."""
    net_filter: str | None = None
    """Select by the network the device is attached to, on VMs: openstack/NetworkID:<neutron network uuid>.
    Cannot be combined with the other selectors."""


class SriovNetworkNodePolicySpec(ApiModel):
    resource_name: str = Field(pattern=RESOURCE_NAME_PATTERN, max_length=63, min_length=1)
    """Name of the device-plugin resource the selected VFs are exposed as (pods request
    <prefix>/<resourceName>). Letters, digits, _ and -; at most 63 characters."""
    node_selector: dict[str, str]
    """Labels a node must have for this policy to apply to it."""
    priority: int = Field(default=99, ge=0, le=99)
    """0 is the highest, 99 the lowest (default 99). When policies select the same PF, the higher priority
    wins; equal priorities merge."""
    mtu: Mtu | None = None
    """MTU to set on the PF and its VFs, 68 to 65535 (the NIC's own maximum may be lower)."""
    num_vfs: int = Field(ge=0, le=MAX_VFS)
    """How many VFs to create on each selected PF, 0 to 65535 (at most the PF's totalvfs); on VMs, 1 (a port
    is one PCI function)."""
    nic_selector: SriovNetworkNicSelector
    """Which NICs (PFs, or VM ports) this policy configures."""
    device_type: DeviceType = "netdevice"
    """Driver for the VFs: netdevice (the kernel's network driver) or vfio-pci (for DPDK). Default netdevice.
    """
    is_rdma: bool = False
    """Expose the VFs as RDMA devices too (Mellanox). Not with vfio-pci."""
    need_vhost_net: bool = False
    """Mount /dev/vhost-net and /dev/net/tun into pods using the resource."""
    link_type: LinkType | None = None
    """Link type of the PF: eth or ib (InfiniBand)."""
    e_switch_mode: ESwitchMode | None = None
    """eSwitch mode of the PF: legacy or switchdev (hardware offload). Changing it needs a drain."""
    vdpa_type: VdpaType | None = None
    """Create vDPA devices of this type on the VFs: virtio or vhost (switchdev, Mellanox)."""
    exclude_topology: bool = False
    """Do not advertise the NUMA topology of the resource."""
    externally_managed: bool = False
    """The PF's VFs are created by someone else; the operator only uses them and never removes them."""
    bridge: Bridge | None = None
    """Software bridge to create with the PF as uplink."""


class SriovNetworkNodePolicyStatus(ApiModel):
    """Our addition (upstream's is empty): where the policy landed."""

    matched_nodes: NonNegativeInt | None = None
    """How many nodes this policy selects."""
    ready_nodes: NonNegativeInt | None = None
    """How many of those nodes have applied their configuration (syncStatus Succeeded)."""
    conditions: list[Condition] | None = None
    """Ready is True when every matched node is configured."""


class SriovNetworkNodePolicy(KubeObject):
    """Which NICs to configure on which nodes, and how: the number of VFs, their driver and MTU, and
    the device-plugin resource that exposes them to pods."""

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
    """The object's kind."""
    spec: SriovNetworkNodePolicySpec
    """What to configure, and on which nodes and NICs."""
    status: SriovNetworkNodePolicyStatus | None = None
    """Where the policy landed and whether those nodes are ready (our addition)."""


# -------------------------------------------------------- SriovNetworkNodeState
class VfGroup(ApiModel):
    resource_name: str | None = None
    """Device-plugin resource these VFs belong to."""
    device_type: DeviceType | None = None
    """Driver for these VFs: netdevice or vfio-pci."""
    vf_range: str | None = None
    """The VF indexes of this group, a-b, e.g. 0-3."""
    policy_name: str | None = None
    """The policy that asked for this group."""
    mtu: Mtu | None = None
    """MTU of these VFs, 68 to 65535."""
    is_rdma: bool = False
    """These VFs are exposed as RDMA devices."""
    vdpa_type: VdpaType | None = None
    """vDPA device type created on these VFs."""


class Interface(ApiModel):
    """One PF as the node should look (NodeState.spec.interfaces[])."""

    pci_address: str
    """PCI address of the PF (on VMs, of the port)."""
    num_vfs: VfCount | None = None
    """Number of VFs the PF must have, 0 to 65535."""
    mtu: Mtu | None = None
    """MTU of the PF, 68 to 65535."""
    name: str | None = None
    """Kernel name of the PF."""
    link_type: LinkType | None = None
    """Link type of the PF: eth or ib."""
    e_switch_mode: ESwitchMode | None = None
    """eSwitch mode of the PF: legacy or switchdev."""
    vf_groups: list[VfGroup] | None = None
    """The PF's VFs, in groups with their resource, driver and settings."""
    externally_managed: bool = False
    """The VFs exist already and must not be created or removed."""


class System(ApiModel):
    rdma_mode: RdmaMode | None = None
    """RDMA subsystem mode of the node: shared or exclusive (network namespace aware)."""


class SriovNetworkNodeStateSpec(ApiModel):
    interfaces: list[Interface] | None = None
    """Each PF (or VM port) as the node should look."""
    bridges: Bridges | None = None
    """Software bridges the node should have."""
    system: System | None = None
    """Node-wide settings."""


class VirtualFunction(ApiModel):
    name: str | None = None
    """Kernel name of the VF's network interface (none while bound to vfio-pci)."""
    mac: str | None = None
    """MAC address."""
    assigned: str | None = None
    """The pod or network using the VF, when known."""
    driver: str | None = None
    """Driver bound to the VF, e.g. iavf, mlx5_core or vfio-pci."""
    pci_address: str
    """PCI address of the VF."""
    vendor: str | None = None
    """PCI vendor ID."""
    device_id: str | None = Field(default=None, alias="deviceID")
    """PCI device ID."""
    vlan: int | None = Field(default=None, alias="Vlan")
    """VLAN set on the VF by the PF."""
    mtu: int | None = None
    """MTU."""
    vf_id: NonNegativeInt = Field(alias="vfID")
    """Index of the VF on its PF."""
    vdpa_type: str | None = None
    """vDPA device type on the VF, if any."""
    representor_name: str | None = None
    """Name of the VF's representor netdev (switchdev)."""
    guid: str | None = None
    """InfiniBand GUID of the VF."""


class InterfaceExt(ApiModel):
    """One discovered PF (NodeState.status.interfaces[]); on VMs, one PCI network function."""

    name: str | None = None
    """Kernel name of the interface."""
    mac: str | None = None
    """MAC address."""
    driver: str | None = None
    """Driver bound to the device."""
    pci_address: str
    """PCI address."""
    vendor: str | None = None
    """PCI vendor ID."""
    device_id: str | None = Field(default=None, alias="deviceID")
    """PCI device ID."""
    net_filter: str | None = None
    """On VMs, the network the port is attached to, e.g. openstack/NetworkID:<uuid>, from the config drive or
    the metadata service."""
    mtu: int | None = None
    """MTU."""
    num_vfs: int | None = None
    """Number of VFs the PF has now."""
    link_speed: str | None = None
    """Link speed, e.g. 25000 Mb/s."""
    link_type: str | None = None
    """Link type: ETH or IB."""
    link_admin_state: str | None = None
    """Administrative link state: up or down."""
    e_switch_mode: str | None = None
    """eSwitch mode: legacy or switchdev."""
    externally_managed: bool = False
    """The PF's VFs are managed outside the operator."""
    totalvfs: int | None = Field(default=None, alias="totalvfs")
    """Most VFs the PF supports (sriov_totalvfs)."""
    vfs: list[VirtualFunction] | None = Field(default=None, alias="Vfs")
    """The PF's VFs."""
    alt_names: list[str] | None = None
    """Alternative interface names."""


class SriovNetworkNodeStateStatus(ApiModel):
    interfaces: list[InterfaceExt] | None = None
    """The NICs the config daemon discovered on the node."""
    bridges: Bridges | None = None
    """Software bridges found on the node."""
    system: System | None = None
    """Node-wide settings found on the node."""
    sync_status: SyncStatus | None = None
    """InProgress while the node is being configured, Succeeded when it matches spec, Failed on an error (see
    lastSyncError)."""
    last_sync_error: str | None = None
    """Why the last configuration attempt failed: what, where, and what to do."""
    conditions: list[Condition] | None = None  # ours: Ready, Progressing, Degraded, Draining
    """Ready, Progressing, Degraded and Draining (our addition)."""


class SriovNetworkNodeState(KubeObject):
    """One node's NICs: the configuration the operator wants (spec, rendered from the policies)
    and what the node's config daemon found and did (status). Named after the node."""

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
    """The object's kind."""
    spec: SriovNetworkNodeStateSpec = Field(default_factory=SriovNetworkNodeStateSpec)
    """Desired configuration of the node's NICs, written by the operator from the policies."""
    status: SriovNetworkNodeStateStatus | None = None
    """What the node's config daemon found and did."""


# ------------------------------------------------------------- network kinds
class NetworkStatus(ApiModel):
    conditions: list[Condition] | None = None
    """Ready is True when the NetworkAttachmentDefinition is in place."""


_NETWORK_COLUMNS: tuple[dict[str, str], ...] = (
    {"name": "Resource", "type": "string", "jsonPath": ".spec.resourceName"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    _AGE_COLUMN,
)


LinkState = Literal["auto", "enable", "disable"]


class NetworkSpecBase(ApiModel):
    """Fields every network kind has: which resource, where the NAD goes, and raw CNI JSON."""

    resource_name: str = Field(min_length=1)
    """Device-plugin resource (a policy's resourceName) whose devices this network uses."""
    network_namespace: str | None = None
    """Namespace to create the NetworkAttachmentDefinition in (default: this object's). Only for objects in
    the operator namespace."""
    capabilities: str | None = None
    """CNI capabilities as raw JSON, e.g. '{"mac": true, "ips": true}'."""
    ipam: str | None = None
    """IPAM configuration as raw JSON, e.g. '{"type": "host-local", "subnet": "10.56.217.0/24"}'."""
    meta_plugins: str | None = None
    """Extra CNI plugins chained after this one, as raw JSON objects separated by commas."""


class SriovNetworkSpec(NetworkSpecBase):
    vlan: VlanId = 0
    """VLAN ID for the VF, 0 to 4094; 0 means no VLAN."""
    vlan_qos: Annotated[int, Field(ge=0, le=7)] = Field(default=0, alias="vlanQoS")
    """VLAN QoS (priority), 0 to 7."""
    vlan_proto: Literal["802.1q", "802.1Q", "802.1ad", "802.1AD"] | None = None
    """VLAN protocol: 802.1q or 802.1ad."""
    spoof_chk: OnOff | None = None
    """MAC spoof checking on the VF: on or off."""
    trust: OnOff | None = None
    """VF trust mode: on or off."""
    link_state: LinkState | None = None
    """VF link state: auto, enable or disable."""
    min_tx_rate: TxRate | None = None
    """Minimum transmit rate of the VF, in Mbps, 0 to 4294967295."""
    max_tx_rate: TxRate | None = None
    """Maximum transmit rate of the VF, in Mbps, 0 to 4294967295."""
    log_level: Literal["panic", "error", "warning", "info", "debug", ""] = "info"
    """Log level of the SR-IOV CNI plugin: panic, error, warning, info or debug; "" writes none."""
    log_file: str | None = None
    """File the SR-IOV CNI plugin logs to."""


class SriovNetwork(KubeObject):
    """An SR-IOV network for pods: the operator writes a NetworkAttachmentDefinition that uses a
    policy's resource."""

    KIND: ClassVar[str] = "SriovNetwork"
    PLURAL: ClassVar[str] = "sriovnetworks"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = _NETWORK_COLUMNS
    kind: Literal["SriovNetwork"] = "SriovNetwork"
    """The object's kind."""
    spec: SriovNetworkSpec
    """The network to attach pods to, as a NetworkAttachmentDefinition."""
    status: NetworkStatus | None = None
    """Whether the NetworkAttachmentDefinition is in place."""


class SriovIBNetworkSpec(NetworkSpecBase):
    link_state: LinkState | None = None
    """VF link state: auto, enable or disable."""


class SriovIBNetwork(KubeObject):
    """An InfiniBand SR-IOV network for pods: the operator writes a NetworkAttachmentDefinition that
    uses a policy's resource."""

    KIND: ClassVar[str] = "SriovIBNetwork"
    PLURAL: ClassVar[str] = "sriovibnetworks"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = _NETWORK_COLUMNS
    kind: Literal["SriovIBNetwork"] = "SriovIBNetwork"
    """The object's kind."""
    spec: SriovIBNetworkSpec
    """The InfiniBand network to attach pods to."""
    status: NetworkStatus | None = None
    """Whether the NetworkAttachmentDefinition is in place."""


class TrunkConfig(ApiModel):
    min_id: OvsVlanId | None = Field(default=None, alias="minID")
    """First VLAN ID of a trunk range."""
    max_id: OvsVlanId | None = Field(default=None, alias="maxID")
    """Last VLAN ID of a trunk range."""
    id: OvsVlanId | None = None
    """A single trunk VLAN ID."""


class OVSNetworkSpec(NetworkSpecBase):
    bridge: str | None = None
    """Name of the OVS bridge the port is attached to."""
    vlan: OvsVlanId | None = None
    """Access VLAN of the port."""
    mtu: Annotated[int, Field(ge=0, le=MAX_MTU)] | None = None
    """MTU of the port, up to 65535; 0 leaves it to the bridge."""
    trunk: list[TrunkConfig] | None = None
    """Trunk VLANs of the port."""
    interface_type: str | None = None
    """OVS interface type of the port."""


class OVSNetwork(KubeObject):
    """A network for pods on an OVS bridge with hardware-offloaded VFs: the operator writes a
    NetworkAttachmentDefinition for the OVS CNI plugin."""

    KIND: ClassVar[str] = "OVSNetwork"
    PLURAL: ClassVar[str] = "ovsnetworks"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = _NETWORK_COLUMNS
    kind: Literal["OVSNetwork"] = "OVSNetwork"
    """The object's kind."""
    spec: OVSNetworkSpec
    """The OVS network to attach pods to."""
    status: NetworkStatus | None = None
    """Whether the NetworkAttachmentDefinition is in place."""


# ------------------------------------------------------- SriovOperatorConfig
class SriovOperatorConfigSpec(ApiModel):
    config_daemon_node_selector: dict[str, str] | None = None
    """Nodes that run the config daemon (default: Linux workers)."""
    enable_injector: bool = False
    """Run the network-resources injector, which adds device requests to pods from their network annotations.
    """
    enable_operator_webhook: bool = False
    """Run the admission webhook that validates and defaults this API."""
    log_level: Annotated[int, Field(ge=0, le=2)] | None = None
    """Operator log verbosity, 0 to 2."""
    disable_drain: bool = False
    """Never drain nodes before configuring them (single-node clusters)."""
    enable_ovs_offload: bool = False
    """Enable OVS hardware offload (deprecated upstream)."""
    configuration_mode: Literal["daemon", "systemd"] | None = None
    """How the config daemon applies changes: daemon or systemd."""
    use_cdi: bool = Field(default=False, alias="useCDI")
    """Hand devices to pods through the Container Device Interface."""
    disable_plugins: list[Literal["mellanox"]] | None = None
    """Vendor plugins to turn off, e.g. mellanox."""
    feature_gates: dict[str, bool] | None = None
    """Feature gates by name, on or off."""
    config_daemon_env_vars: dict[str, str] | None = None
    """Extra environment variables for the config daemon."""


class SriovOperatorConfigStatus(ApiModel):
    injector: str | None = None
    """State of the network-resources injector."""
    operator_webhook: str | None = None
    """State of the admission webhook."""
    conditions: list[Condition] | None = None
    """Ready is True when the operator's components run as configured."""


class SriovOperatorConfig(KubeObject):
    """How the operator runs: which nodes get the config daemon, the webhook and injector,
    draining, feature gates. Only the object named default in the operator namespace counts."""

    KIND: ClassVar[str] = "SriovOperatorConfig"
    PLURAL: ClassVar[str] = "sriovoperatorconfigs"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = (
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        _AGE_COLUMN,
    )
    kind: Literal["SriovOperatorConfig"] = "SriovOperatorConfig"
    """The object's kind."""
    spec: SriovOperatorConfigSpec = Field(default_factory=SriovOperatorConfigSpec)
    """How the operator and its components run. Only the object named default counts."""
    status: SriovOperatorConfigStatus | None = None
    """Whether the components run as configured."""


# ---------------------------------------------------- SriovNetworkPoolConfig
class LabelSelectorRequirement(ApiModel):
    key: str
    """Label key."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """In, NotIn, Exists or DoesNotExist."""
    values: list[str] | None = None
    """Values for In and NotIn."""


class LabelSelector(ApiModel):
    match_labels: dict[str, str] | None = None
    """Labels a node must have."""
    match_expressions: list[LabelSelectorRequirement] | None = None
    """Label requirements a node must meet."""


class OvsHardwareOffloadConfig(ApiModel):
    name: str | None = None
    """Name of the machine config pool to enable OVS hardware offload on (OpenShift)."""


MAX_UNAVAILABLE_PATTERN = r"^(100|[1-9][0-9]?)%$"


class SriovNetworkPoolConfigSpec(ApiModel):
    node_selector: LabelSelector | None = None
    """The nodes in this pool. A node must be in at most one pool."""
    max_unavailable: Int32Count | Annotated[str, Field(pattern=MAX_UNAVAILABLE_PATTERN)] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-int-or-string": True}
    )
    """How many of the pool's nodes may be draining at once: a number, or a percentage such as 25% (rounded
    down). Unset means no limit; 0 blocks drains."""
    rdma_mode: RdmaMode | None = None
    """RDMA subsystem mode for the pool's nodes: shared or exclusive."""
    ovs_hardware_offload_config: OvsHardwareOffloadConfig | None = None
    """OVS hardware offload settings (OpenShift)."""


class SriovNetworkPoolConfig(KubeObject):
    """A group of nodes and how many of them may be drained at once while they are configured."""

    KIND: ClassVar[str] = "SriovNetworkPoolConfig"
    PLURAL: ClassVar[str] = "sriovnetworkpoolconfigs"
    PRINTER_COLUMNS: ClassVar[tuple[dict[str, str], ...]] = (
        {"name": "MaxUnavailable", "type": "string", "jsonPath": ".spec.maxUnavailable"},
        {"name": "RdmaMode", "type": "string", "jsonPath": ".spec.rdmaMode"},
        _AGE_COLUMN,
    )
    kind: Literal["SriovNetworkPoolConfig"] = "SriovNetworkPoolConfig"
    """The object's kind."""
    spec: SriovNetworkPoolConfigSpec = Field(default_factory=SriovNetworkPoolConfigSpec)
    """A group of nodes that drain together under one budget."""
    status: dict[str, Any] | None = None
    """Unused."""


ALL_KINDS: tuple[type[KubeObject], ...] = (
    SriovNetworkNodePolicy,
    SriovNetworkNodeState,
    SriovNetwork,
    SriovIBNetwork,
    OVSNetwork,
    SriovOperatorConfig,
    SriovNetworkPoolConfig,
)
