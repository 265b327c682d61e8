"""URI scheme -> ``LoggedModelStore`` implementation.

Logged models live where the tracking data lives: the same SQLite or PostgreSQL
database. A ``memory://`` or ``file:`` tracking backend keeps none on disk, so it
gets an in-process store (lost with the process; say so to users). SQLAlchemy is
imported only for SQL URIs.
"""

from __future__ import annotations

from urllib.parse import urlparse

from kiln.entities import DEFAULT_WORKSPACE
from kiln.errors import InvalidUri
from kiln.store.logged_model_base import LoggedModelStore

SQL_SCHEMES = frozenset({"sqlite", "postgresql", "postgres"})
IN_PROCESS_SCHEMES = frozenset({"memory", "file", ""})


def open_logged_model_store(uri: str, workspace: str = DEFAULT_WORKSPACE) -> LoggedModelStore:
    """Open the logged-model store for a tracking backend URI.

    Raises:
        InvalidUri: a scheme with no logged-model backend (``http(s)://``: talk to
            that server's REST API instead).
    """
    scheme = urlparse(uri).scheme.lower().split("+", 1)[0]
    if len(scheme) == 1:  # a Windows drive letter
        scheme = ""
    if scheme in SQL_SCHEMES:
        from kiln.store.sql.logged_models import open_sql_logged_model_store

        return open_sql_logged_model_store(uri, workspace=workspace)
    if scheme in IN_PROCESS_SCHEMES:
        from kiln.store.logged_model_memory import MemoryLoggedModelStore

        return MemoryLoggedModelStore(workspace)
    raise InvalidUri(
        f"no logged-model store for tracking URI {uri!r}: use sqlite://, postgresql://, "
        "file: or memory://"
    )


__all__ = ["open_logged_model_store"]
