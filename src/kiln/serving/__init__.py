"""kiln.serving."""
