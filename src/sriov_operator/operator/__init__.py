"""The operator process: controllers that turn users' objects into what nodes and plugins consume."""
