"""Talking to a Kubernetes API server (kubernetes_asyncio underneath)."""
