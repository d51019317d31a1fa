"""A simulated host: a sysfs-like tree plus the kernel's reactions to writes and to modprobe/devlink.

The tree and the simulator's own state (``.simulator/kernel.json`` in the tree)
live on disk, so separate processes (``sriov-operator ... --simulate``) see one
consistent host.
"""
