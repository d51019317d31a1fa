"""Names other components read: group/version, annotations, labels, finalizers.

These strings are part of the upstream contract (the SR-IOV device plugin, CNI,
Multus and existing user tooling read them); keep them byte-for-byte.
"""

from enum import StrEnum
from typing import Final

GROUP: Final = "sriovnetwork.openshift.io"
VERSION: Final = "v1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

NAD_GROUP: Final = "k8s.cni.cncf.io"
NAD_API_VERSION: Final = f"{NAD_GROUP}/v1"
NAD_KIND: Final = "NetworkAttachmentDefinition"

DEFAULT_OPERATOR_NAMESPACE: Final = "sriov-network-operator"
OPENSHIFT_OPERATOR_NAMESPACE: Final = "openshift-sriov-network-operator"
DEFAULT_RESOURCE_PREFIX: Final = "openshift.io"

# The one SriovOperatorConfig that counts, and the policy the engine ignores.
DEFAULT_OPERATOR_CONFIG_NAME: Final = "default"
DEFAULT_POLICY_NAME: Final = "default"
SUPPORTED_NIC_CONFIGMAP: Final = "supported-nic-ids"

# Finalizers
NAD_FINALIZER: Final = "netattdef.finalizers.sriovnetwork.openshift.io"

# NetworkAttachmentDefinition annotations
NAD_RESOURCE_NAME_ANNOTATION: Final = "k8s.v1.cni.cncf.io/resourceName"
OWNER_REF_ANNOTATION: Final = "sriovnetwork.openshift.io/owner-ref"
POD_NETWORKS_ANNOTATION: Final = "k8s.v1.cni.cncf.io/networks"

# Drain hand-shake between the config daemon and the drain controller.
NODE_STATE_ANNOTATION: Final = "sriovnetwork.openshift.io/state"  # on the Node: daemon's request
NODE_STATE_DESIRED_ANNOTATION: Final = "sriovnetwork.openshift.io/desired-state"
NODE_STATE_CURRENT_ANNOTATION: Final = "sriovnetwork.openshift.io/current-state"

DRAIN_IDLE: Final = "Idle"
DRAIN_REQUIRED: Final = "Drain_Required"
REBOOT_REQUIRED: Final = "Reboot_Required"
DRAINING: Final = "Draining"
DRAIN_COMPLETE: Final = "DrainComplete"

# Drain controller bookkeeping (ours). On the Node: we cordoned it, so we uncordon it.
CORDONED_BY_ANNOTATION: Final = "sriovnetwork.openshift.io/cordoned-by"
# On the NodeState: when the current drain started (its deadline counts from here), how many
# drains gave up in a row, when the next may start, and which request the last drain answered.
DRAIN_STARTED_AT_ANNOTATION: Final = "sriovnetwork.openshift.io/drain-started-at"
DRAIN_ATTEMPTS_ANNOTATION: Final = "sriovnetwork.openshift.io/drain-attempts"
DRAIN_RETRY_AT_ANNOTATION: Final = "sriovnetwork.openshift.io/drain-retry-at"
DRAINED_FOR_ANNOTATION: Final = "sriovnetwork.openshift.io/drained-for"
DRAIN_BOOKKEEPING_ANNOTATIONS: Final = (
    DRAIN_STARTED_AT_ANNOTATION,
    DRAIN_ATTEMPTS_ANNOTATION,
    DRAIN_RETRY_AT_ANNOTATION,
    DRAINED_FOR_ANNOTATION,
)
# The drain controller's answers to a config daemon's request: only the operator writes them (the
# daemon's node-scope admission policy lists the same keys as drainAnswers).
DRAIN_ANSWER_ANNOTATIONS: Final = (
    NODE_STATE_CURRENT_ANNOTATION,
    CORDONED_BY_ANNOTATION,
    *DRAIN_BOOKKEEPING_ANNOTATIONS,
)

# Node labels
DEVICE_PLUGIN_LABEL: Final = "sriovnetwork.openshift.io/device-plugin"
DEVICE_PLUGIN_ENABLED: Final = "Enabled"
# Per-node device-plugin config (docs/operator.md, "Device-plugin hand-off").
DEVICE_PLUGIN_CONFIGMAP_PREFIX: Final = "sriov-device-plugin-config-"
DEVICE_PLUGIN_CONFIG_KEY: Final = "config.json"
DEVICE_PLUGIN_CONFIG_FOR_LABEL: Final = "sriovnetwork.openshift.io/device-plugin-config-for"
FOR_GENERATION_ANNOTATION: Final = "sriovnetwork.openshift.io/for-generation"
HANDED_OVER_ANNOTATION: Final = "sriovnetwork.openshift.io/handed-over"
DEVICE_PLUGIN_HOST_DIR: Final = "/etc/sriov-operator/device-plugin"
# On a NodeState: the policies whose configuration failed on the node (comma-separated), set by the
# config daemon with a Failed status and removed once a generation is applied; policy status reads it.
FAILED_POLICIES_ANNOTATION: Final = "sriovnetwork.openshift.io/failed-policies"
# On a NodeState: the policies whose devices the device plugin cannot use on the node (an isRdma
# device without its RDMA driver), as a JSON object policy -> the plan warning saying why; set by the
# config daemon from its plan, removed when no such warning is left; policy status reads it.
UNUSABLE_POLICIES_ANNOTATION: Final = "sriovnetwork.openshift.io/unusable-policies"
# On a NodeState: the spec generation the config daemon has applied.
APPLIED_GENERATION_ANNOTATION: Final = "sriovnetwork.openshift.io/applied-generation"
# Workloads the operator runs from the default SriovOperatorConfig (docs/operator-config.md).
CONFIG_DAEMON_NAME: Final = "sriov-network-config-daemon"
DEVICE_PLUGIN_NAME: Final = "sriov-device-plugin"
# The webhook's Deployment, ServiceAccount and roles share its Service's name; the certificate
# controller (webhook/) issues the serving Secret for that Service.
WEBHOOK_SERVICE_NAME: Final = "sriov-operator-webhook"
WEBHOOK_SERVICE_PORT: Final = 443
WEBHOOK_CONTAINER_PORT: Final = 6443
WEBHOOK_SERVING_SECRET: Final = "sriov-operator-webhook-cert"  # kubernetes.io/tls, mounted by the webhook
WEBHOOK_CERT_DIR: Final = "/etc/sriov-operator/webhook-tls"
DEFAULT_CONFIG_DAEMON_NODE_SELECTOR: Final = {
    "node-role.kubernetes.io/worker": "",
    "kubernetes.io/os": "linux",
}

# netFilter values the operator understands
OPENSTACK_NETFILTER_PREFIX: Final = "openstack/NetworkID:"

# Field manager used for every server-side apply this operator does.
FIELD_MANAGER: Final = "sriov-fdp-operator"
# The drain controller's own manager for NodeState status, so its condition and the daemon's
# conditions never clobber each other (conditions are a list map keyed by type).
DRAIN_FIELD_MANAGER: Final = "sriov-fdp-operator-drain"

# Sync status values (SriovNetworkNodeState.status.syncStatus)
SYNC_IN_PROGRESS: Final = "InProgress"
SYNC_SUCCEEDED: Final = "Succeeded"
SYNC_FAILED: Final = "Failed"

# Config daemon: field manager of its NodeState status (DRAIN_FIELD_MANAGER owns the Draining
# condition), and what it reports on its NodeState.
DAEMON_FIELD_MANAGER: Final = "sriov-fdp-config-daemon"
METADATA_SOURCE_ANNOTATION: Final = "sriovnetwork.openshift.io/metadata-source"
DEVICE_PLUGIN_POD_SELECTOR: Final = f"app={DEVICE_PLUGIN_NAME}"  # the device plugin DaemonSet's pods

# Admission webhook: the objects the operator manages for it, and the Service the webhook Deployment
# sits behind (the workloads renderer and the certificate controller must agree on these).
WEBHOOK_CA_SECRET: Final = "sriov-operator-webhook-ca"
OPERATOR_WEBHOOK_CONFIG_NAME: Final = "sriov-operator-webhook-config"  # validating and mutating
INJECTOR_WEBHOOK_CONFIG_NAME: Final = "network-resources-injector-config"
# On a webhook configuration: someone else (cert-manager, OpenShift's service CA) injects the caBundle.
EXTERNAL_CA_BUNDLE_ANNOTATIONS: Final = (
    "cert-manager.io/inject-ca-from",
    "cert-manager.io/inject-ca-from-secret",
    "service.beta.openshift.io/inject-cabundle",
)
# On the default SriovOperatorConfig: failurePolicy of the webhooks ("Fail" or "Ignore").
WEBHOOK_FAILURE_POLICY_ANNOTATION: Final = "sriovnetwork.openshift.io/webhook-failure-policy"
INJECTOR_FAILURE_POLICY_ANNOTATION: Final = "sriovnetwork.openshift.io/injector-failure-policy"


class EventReason(StrEnum):
    """Every Event reason our processes write (events.k8s.io/v1 ``reason``); one table for all.

    Each reason has a one-line meaning in `EVENT_REASON_DOCS` (docs/runtime.md
    lists them; a test keeps the three in step). Processes add their reasons here.
    """

    LEADER_ELECTED = "LeaderElected"
    LEADER_LOST = "LeaderLost"
    # drain controller (docs/drain.md), on the Node
    DRAIN_STARTED = "DrainStarted"
    DRAIN_COMPLETE = "DrainComplete"
    DRAIN_BLOCKED = "DrainBlocked"
    DRAIN_FORCED = "DrainForced"
    DRAIN_WAITING = "DrainWaiting"
    DRAIN_POOL_CONFLICT = "DrainPoolConflict"
    DRAIN_SKIPPED = "DrainSkipped"
    DRAIN_REQUEST_INVALID = "DrainRequestInvalid"
    NODE_UNCORDONED = "NodeUncordoned"
    # operator
    NODE_STATE_DELETED = "NodeStateDeleted"
    POLICY_READY = "PolicyReady"
    POLICY_NOT_READY = "PolicyNotReady"
    POLICY_SELECTS_NO_DEVICE = "PolicySelectsNoDevice"
    POLICY_RESOURCE_UNUSABLE = "PolicyResourceUnusable"
    OPERATOR_CONFIG_CREATED = "OperatorConfigCreated"
    NETWORK_READY = "NetworkReady"
    NAD_INVALID = "NetworkAttachmentDefinitionInvalid"
    NAMESPACE_NOT_FOUND = "NamespaceNotFound"
    NAD_OWNED_BY_OTHER = "NetworkAttachmentDefinitionOwnedByOther"
    # config daemon
    CONFIGURATION_PLANNED = "ConfigurationPlanned"
    DRAIN_REQUESTED = "DrainRequested"
    DRAIN_RELEASED = "DrainReleased"
    CONFIGURATION_APPLIED = "ConfigurationApplied"
    CONFIGURATION_FAILED = "ConfigurationFailed"
    DEVICE_PLUGIN_CONFIG_HANDED_OVER = "DevicePluginConfigHandedOver"
    DEVICE_PLUGIN_RESTARTED = "DevicePluginRestarted"
    DEVICE_PLUGIN_CONFIG_WITHDRAWN = "DevicePluginConfigWithdrawn"
    UNSAFE_NO_IOMMU_MODE = "UnsafeNoIOMMUMode"
    PLAN_WARNINGS = "PlanWarnings"
    METADATA_SOURCE = "MetadataSource"


EVENT_REASON_DOCS: Final[dict[EventReason, str]] = {
    EventReason.LEADER_ELECTED: "this process acquired the leader-election Lease and starts its controllers",
    EventReason.LEADER_LOST: "this process could not renew the Lease in time and stopped its controllers",
    EventReason.DRAIN_STARTED: (
        "a node's drain started: cordoned, evicting what must leave (the note names the pods)"
    ),
    EventReason.DRAIN_COMPLETE: (
        "a node's drain finished (the note names the pods evicted last); the config daemon may go on"
    ),
    EventReason.DRAIN_BLOCKED: (
        "a drain passed its deadline with pods left (named, with PDBs); uncordoned, retried"
    ),
    EventReason.DRAIN_FORCED: (
        "pods a PDB protects were deleted at the drain deadline (--drain-force-past-pdb)"
    ),
    EventReason.DRAIN_WAITING: "a node waits for a slot in its pool (maxUnavailable reached)",
    EventReason.DRAIN_POOL_CONFLICT: (
        "a node is selected by several SriovNetworkPoolConfigs and is not drained"
    ),
    EventReason.DRAIN_SKIPPED: "disableDrain is set: a drain request was answered at once",
    EventReason.DRAIN_REQUEST_INVALID: (
        "a Node's sriovnetwork.openshift.io/state annotation is no known request"
    ),
    EventReason.NODE_UNCORDONED: "the drain controller uncordoned a node it had cordoned",
    EventReason.NODE_STATE_DELETED: "a NodeState (and its device-plugin ConfigMap) outlived its Node by "
    "the grace delay and was deleted",
    EventReason.POLICY_READY: "every node a policy selects is configured for it",
    EventReason.POLICY_NOT_READY: "a policy's Ready condition changed to a not-ready reason (nodes "
    "waiting or failed, no node matched, or the policy is invalid)",
    EventReason.POLICY_SELECTS_NO_DEVICE: "a policy selects nodes on which it selects no device (the note "
    "names them); once per distinct set of nodes",
    EventReason.POLICY_RESOURCE_UNUSABLE: "a policy's devices are configured, but a node's daemon says the "
    "device plugin cannot use them (the note names the nodes and the fix); once per distinct set",
    EventReason.OPERATOR_CONFIG_CREATED: "no default SriovOperatorConfig existed; the operator created one",
    EventReason.NETWORK_READY: "a network's NetworkAttachmentDefinition was written and is up to date",
    EventReason.NAD_INVALID: "a network's spec cannot be rendered into a NetworkAttachmentDefinition "
    "(the note names the field)",
    EventReason.NAMESPACE_NOT_FOUND: "the target namespace of a network is missing; the NAD follows it",
    EventReason.NAD_OWNED_BY_OTHER: "a NetworkAttachmentDefinition of the network's name exists and "
    "belongs to someone else; it is left alone",
    EventReason.CONFIGURATION_PLANNED: "the config daemon is about to change its host; the note lists each "
    "change, whether it needs a drain, and the policy asking for it",
    EventReason.DRAIN_REQUESTED: "the config daemon asked the drain controller to drain its node before "
    "changes that take devices from running pods",
    EventReason.DRAIN_RELEASED: "applying failed, or the spec could not be planned (the loop guard among "
    "the reasons), on a drained node: the config daemon asked for Idle, so the node is uncordoned (the note "
    "names the failing policies and the error, and when the retry comes or that nothing is applied until "
    "the spec or the host changes)",
    EventReason.CONFIGURATION_APPLIED: "the host now matches the NodeState spec generation in the note",
    EventReason.CONFIGURATION_FAILED: "discovering, planning or applying failed; the note says what, where "
    "and what to do; the daemon retries with backoff",
    EventReason.DEVICE_PLUGIN_CONFIG_HANDED_OVER: "the node's device plugin got its config file, after the "
    "devices it lists were configured",
    EventReason.DEVICE_PLUGIN_RESTARTED: "the node's device plugin Pod was deleted so it restarts with a "
    "changed resource list, or without a config from an earlier boot",
    EventReason.DEVICE_PLUGIN_CONFIG_WITHDRAWN: "the node rebooted: its device plugin's config was removed "
    "until the devices are configured again in this boot",
    EventReason.UNSAFE_NO_IOMMU_MODE: "vfio runs in no-IOMMU mode on this node: DPDK devices do DMA without "
    "IOMMU isolation",
    EventReason.PLAN_WARNINGS: "the host plan for this node warns of something the daemon does not fix "
    "(an isRdma device without its RDMA driver, a field it does not apply); once per distinct set",
    EventReason.METADATA_SOURCE: "the OpenStack metadata source discovery now uses (configDrive, "
    "metadataService)",
}
