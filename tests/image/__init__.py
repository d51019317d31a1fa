"""Test tooling for the operator's image: build it with podman, run its containers as a kubelet would."""
