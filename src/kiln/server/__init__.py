"""kiln.server."""
