"""The policy engine: pure functions from cluster objects to desired state.

Nothing here does I/O, reads the clock or the environment.  The controllers,
the admission webhook and the ``render`` / ``validate`` commands all call the
same functions, so they can never disagree.  Entry points:

- :func:`sriov_operator.engine.inputs.read_documents` — parsed manifests → typed objects;
- :func:`sriov_operator.engine.render.render_cluster` — objects → NodeState specs,
  device-plugin resources, NetworkAttachmentDefinitions and every problem found;
- :func:`sriov_operator.engine.render.render_nodes` with
  :func:`sriov_operator.engine.render.nodes_affected_by_policy_change` — re-render only
  the nodes one policy change can touch.
"""
