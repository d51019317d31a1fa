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
POOL_CONFIG_FINALIZER: Final = "poolconfig.finalizers.sriovnetwork.openshift.io"
OPERATOR_CONFIG_FINALIZER: Final = "operatorconfig.finalizers.sriovnetwork.openshift.io"

# NetworkAttachmentDefinition annotations
NAD_RESOURCE_NAME_ANNOTATION: Final = "k8s.v1.cni.cncf.io/resourceName"
OWNER_REF_ANNOTATION: Final = "sriovnetwork.openshift.io/owner-ref"
LAST_NETWORK_NAMESPACE_ANNOTATION: Final = "operator.sriovnetwork.openshift.io/last-network-namespace"
POD_NETWORKS_ANNOTATION: Final = "k8s.v1.cni.cncf.io/networks"

# Drain hand-shake between the config daemon and the drain controller.
NODE_STATE_ANNOTATION: Final = "sriovnetwork.openshift.io/state"  # on the Node: daemon's request
NODE_STATE_DESIRED_ANNOTATION: Final = "sriovnetwork.openshift.io/desired-state"
NODE_STATE_CURRENT_ANNOTATION: Final = "sriovnetwork.openshift.io/current-state"
KEEP_STATE_UNTIL_ANNOTATION: Final = "sriovnetwork.openshift.io/keep-state-until"

DRAIN_IDLE: Final = "Idle"
DRAIN_REQUIRED: Final = "Drain_Required"
REBOOT_REQUIRED: Final = "Reboot_Required"
DRAINING: Final = "Draining"
DRAIN_COMPLETE: Final = "DrainComplete"

# Node labels
DEVICE_PLUGIN_LABEL: Final = "sriovnetwork.openshift.io/device-plugin"
DEVICE_PLUGIN_ENABLED: Final = "Enabled"
DEVICE_PLUGIN_DISABLED: Final = "Disabled"
DEFAULT_CONFIG_DAEMON_NODE_SELECTOR: Final = {
    "node-role.kubernetes.io/worker": "",
    "kubernetes.io/os": "linux",
}

# netFilter values the operator understands
OPENSTACK_NETFILTER_PREFIX: Final = "openstack/NetworkID:"
AWS_NETFILTER_PREFIX: Final = "aws/NetworkID:"

# Field manager used for every server-side apply this operator does.
FIELD_MANAGER: Final = "sriov-fdp-operator"

# Sync status values (SriovNetworkNodeState.status.syncStatus)
SYNC_IN_PROGRESS: Final = "InProgress"
SYNC_SUCCEEDED: Final = "Succeeded"
SYNC_FAILED: Final = "Failed"

# Upstream feature gates and their defaults.
FEATURE_GATE_DEFAULTS: Final = {
    "parallelNicConfig": False,
    "resourceInjectorMatchCondition": False,
    "metricsExporter": False,
    "manageSoftwareBridges": False,
    "blockDevicePluginUntilConfigured": True,
    "mellanoxFirmwareReset": True,
}

# Admission webhook: the objects the operator manages for it, and the Service the webhook Deployment
# sits behind (the workloads renderer and the certificate controller must agree on these).
WEBHOOK_SERVICE_NAME: Final = "sriov-operator-webhook"
WEBHOOK_SERVICE_PORT: Final = 443
WEBHOOK_CONTAINER_PORT: Final = 6443
WEBHOOK_CA_SECRET: Final = "sriov-operator-webhook-ca"
WEBHOOK_SERVING_SECRET: Final = "sriov-operator-webhook-cert"  # kubernetes.io/tls, mounted by the webhook
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


EVENT_REASON_DOCS: Final[dict[EventReason, str]] = {
    EventReason.LEADER_ELECTED: "this process acquired the leader-election Lease and starts its controllers",
    EventReason.LEADER_LOST: "this process could not renew the Lease in time and stopped its controllers",
}
