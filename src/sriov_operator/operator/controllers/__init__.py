"""The operator's reconcilers: read informer caches, call the pure core, write."""
