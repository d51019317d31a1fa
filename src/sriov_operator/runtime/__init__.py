"""The process runtime shared by the operator, the config daemon and the webhook.

Informers (watched caches) feed per-key work queues; controllers run reconcile
functions from those queues; a Lease elects one active operator; one HTTP
endpoint serves health and metrics. Built on `sriov_operator.kube`.
"""
