"""kiln.registry."""
