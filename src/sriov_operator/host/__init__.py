"""The node host layer: discover the host, plan changes, apply them (real host or simulator)."""
