"""Principals, tenants, roles -> actions, tokens, sessions, passwords, audit.

The core of ``kiln server --auth``: everything here is a plain Python call on the
stores (``kiln.store.protocols.auth``/``audit``); the server, the CLI and the UI
only parse credentials and render answers.
"""
