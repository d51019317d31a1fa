"""The local sandbox: a real control plane with our API, for people and end-to-end tests."""
