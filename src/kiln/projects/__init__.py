"""MLproject folders run reproducibly and tracked: ``kiln run`` and ``kiln reproduce``."""
