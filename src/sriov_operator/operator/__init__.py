"""The operator process: controllers that turn users' objects into per-node state, NADs and status.

Pure decisions live in the modules without I/O (``cluster_cache``, ``node_objects``,
``networks``, ``status``, ``conditions``, ``diff``); the reconcilers in
``controllers/`` only read informer caches, call them and write. ``drain/`` and
``workloads/`` are two more controllers, each with its pure core beside it.
"""
