"""Shared fixtures live in kiln.testing so that the contract suites can be reused."""

pytest_plugins = ["kiln.testing.fixtures", "kiln.testing.postgres", "kiln.testing.s3"]
