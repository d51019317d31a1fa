"""The config daemon: one per node, it makes its host match its SriovNetworkNodeState.

Pure modules decide (``explain``, ``sync``, ``conditions``, ``handoff``); the
process modules fetch, call them, and write.
"""
