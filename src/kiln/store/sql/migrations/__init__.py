"""Alembic migrations of the tracking schema, shipped inside the package.

``kiln.store.sql.engine.ensure_schema`` runs them when a store is opened on an
empty or old database; nobody needs an ``alembic.ini``.
"""
