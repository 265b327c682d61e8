"""The use-case examples shipped in ``examples/`` and ``kiln examples list/run-all``."""
