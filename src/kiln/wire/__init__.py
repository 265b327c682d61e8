"""kiln.wire."""
