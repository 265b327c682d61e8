"""Migration 0009 (a membership's ``origin`` and ``via_groups``): the memberships a
database at 0008 holds become grants, and the downgrade keeps them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from kiln.entities.auth import Membership, Role
from kiln.store.sql import schema
from kiln.store.sql.auth import open_sql_auth_store
from kiln.store.sql.engine import EnginePool, head_revision, normalize_uri


def _alembic(uri: str, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(schema.__file__).parent / "migrations"))
    raw = create_engine(normalize_uri(uri))
    with raw.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)
    raw.dispose()


def _columns(uri: str) -> set[str]:
    raw = create_engine(normalize_uri(uri))
    with raw.connect() as connection:
        found = {column["name"] for column in inspect(connection).get_columns("memberships")}
    raw.dispose()
    return found


def check_memberships_from_before_0009_are_grants(uri: str) -> None:
    assert head_revision() >= "0009"
    with EnginePool() as pool:
        store = open_sql_auth_store(uri, engines=pool)
        store.create_tenant("team-a")
        store.create_user("alice", None, source="ldap")
        store.set_group_binding("ml", "team-a", Role.MEMBER)
        store.sync_group_memberships("alice", {"ml"})
    _alembic(uri, "downgrade", "0008")
    assert {"origin", "via_groups"}.isdisjoint(_columns(uri))
    raw = create_engine(normalize_uri(uri))
    with raw.connect() as connection:
        assert connection.execute(text("SELECT role FROM memberships")).scalar() == "member"
    raw.dispose()
    with EnginePool() as pool:
        store = open_sql_auth_store(uri, engines=pool)  # upgrades to head again
        assert store.list_memberships() == [Membership("alice", "team-a", Role.MEMBER)]
        # a grant now: the groups no longer move it
        store.sync_group_memberships("alice", set())
        assert store.role_of("alice", "team-a") == Role.MEMBER
    assert {"origin", "via_groups"} <= _columns(uri)


def test_memberships_from_before_0009_are_grants_on_sqlite(tmp_path: Path) -> None:
    check_memberships_from_before_0009_are_grants(f"sqlite:///{tmp_path / 'kiln.db'}")


@pytest.mark.postgres
@pytest.mark.integration
def test_memberships_from_before_0009_are_grants_on_postgresql(postgres_db_uri: str) -> None:
    check_memberships_from_before_0009_are_grants(postgres_db_uri)
