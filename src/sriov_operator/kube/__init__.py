"""Talking to a Kubernetes API server: one client (`session.py`) and raw JSON objects (`objects.py`)."""
