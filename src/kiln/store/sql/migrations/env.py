"""Alembic environment: runs on the connection that ``ensure_schema`` passes in.

``kiln.store.sql.engine.ensure_schema`` puts an open SQLAlchemy ``Connection``
into ``config.attributes["connection"]``; it already holds the migration lock.
Offline (SQL script) mode is not supported.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from kiln.store.sql.schema import metadata


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "kiln migrations run through kiln.store.sql.engine.ensure_schema, "
            "which passes a connection in config.attributes['connection']"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("kiln migrations do not support offline mode")
_run_online()
