"""kiln.demo."""
