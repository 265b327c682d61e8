"""URI scheme -> ``LoggedModelStore`` implementation.

Logged models live where the tracking data lives: the same SQLite or PostgreSQL
database, or the same mlruns folder (``file:`` or a bare path, MLflow's layout). A
``memory://`` backend gets an in-process store. SQLAlchemy is imported only for
SQL URIs.
"""

from __future__ import annotations

from urllib.parse import urlparse

from kiln.entities import DEFAULT_WORKSPACE
from kiln.errors import InvalidUri
from kiln.store.logged_model_base import LoggedModelStore

SQL_SCHEMES = frozenset({"sqlite", "postgresql", "postgres"})
FILE_SCHEMES = frozenset({"file", ""})


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
    if scheme in FILE_SCHEMES:
        from kiln.store.file.logged_models import open_file_logged_model_store

        return open_file_logged_model_store(uri, workspace=workspace)
    if scheme == "memory":
        from kiln.store.logged_model_memory import MemoryLoggedModelStore

        return MemoryLoggedModelStore(workspace)
    raise InvalidUri(
        f"no logged-model store for tracking URI {uri!r}: use sqlite://, postgresql://, "
        "file: or memory://"
    )


__all__ = ["open_logged_model_store"]
