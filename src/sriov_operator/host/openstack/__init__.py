"""OpenStack: Nova metadata (config drive or metadata service) and the netFilter of each port."""
