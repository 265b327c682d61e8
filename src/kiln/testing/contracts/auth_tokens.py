"""The API tokens and login sessions part of the ``AuthStore`` contract: mixed into
``AuthStoreContract``, with its ``store`` (tenant ``team-a``, user ``alice``) and
``audit_log`` fixtures.

What it proves: ``token_grant`` reads the token, its user and the user's current
role (revoked and expired tokens too: the service decides); tokens are listed,
touched and unique; sessions are found by hash, touched, deleted one by one,
when expired or idle, and all of a user's together; one moves to another tenant.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiln.entities.auth import DEFAULT_TENANT, Role, Session
from kiln.errors import AlreadyExists, NotFound
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore
from kiln.testing.contracts.auth_support import HASH_A, HASH_B, events, session, token
from kiln.testing.contracts.support import T0


class TokenSessionContract:
    """Mixed into ``AuthStoreContract``: its tokens and sessions cases."""

    # API tokens --------------------------------------------------------------------
    def test_token_grant_reads_token_user_and_current_role(self, store: AuthStore) -> None:
        made = store.create_token(token(role=Role.PROJECT_ADMIN, expires_at=T0 + 10), HASH_A)
        assert store.get_token("t1") == made
        grant = store.token_grant(HASH_A)
        assert grant is not None
        assert (grant.token, grant.user, grant.role) == (made, store.get_user("alice"), None)
        store.set_membership("alice", "team-a", Role.VIEWER)
        store.set_user_flags("alice", disabled=True)
        grant = store.token_grant(HASH_A)
        assert grant is not None
        assert (grant.role, grant.user.disabled) == (Role.VIEWER, True)
        assert grant.token.role is Role.PROJECT_ADMIN
        assert store.token_grant(HASH_B) is None

    def test_revoked_and_expired_tokens_are_still_answered(self, store: AuthStore) -> None:
        store.create_token(token(expires_at=T0 + 10), HASH_A)
        grant = store.token_grant(HASH_A)
        assert grant is not None
        assert grant.token.active(T0 + 9)
        assert not grant.token.active(T0 + 10)
        revoked = store.revoke_token("t1", T0 + 5)
        assert revoked.revoked_at == T0 + 5
        assert store.revoke_token("t1", T0 + 7).revoked_at == T0 + 5  # the first stays
        grant = store.token_grant(HASH_A)
        assert grant is not None
        assert grant.token == revoked
        assert not grant.token.active(T0 + 6)

    def test_tokens_are_listed_touched_and_unique(self, store: AuthStore) -> None:
        store.create_tenant("team-b")
        store.create_user("bob", None)
        store.create_token(token("t1"), HASH_A)
        store.create_token(token("t2", tenant="team-b", role=Role.VIEWER), HASH_B)
        store.create_token(token("t3", user="bob"), "c" * 64)
        assert [t.token_id for t in store.list_tokens()] == ["t1", "t2", "t3"]
        assert [t.token_id for t in store.list_tokens(user="alice")] == ["t1", "t2"]
        assert [t.token_id for t in store.list_tokens(tenant="team-a")] == ["t1", "t3"]
        assert [t.token_id for t in store.list_tokens(user="bob", tenant="team-b")] == []
        store.touch_token("t1", T0 + 60_000)
        assert store.get_token("t1").last_used_at == T0 + 60_000
        with pytest.raises(AlreadyExists, match="token 't1' already exists"):
            store.create_token(token("t1"), "d" * 64)
        with pytest.raises(AlreadyExists, match="token 't9' already exists"):
            store.create_token(token("t9"), HASH_A)
        with pytest.raises(NotFound, match="workspace 'nope' not found"):
            store.create_token(token("t9", tenant="nope"), "d" * 64)
        for call in (
            lambda: store.get_token("t9"),
            lambda: store.revoke_token("t9", T0),
            lambda: store.touch_token("t9", T0),
        ):
            with pytest.raises(NotFound, match="token 't9' not found"):
                call()
        assert len(store.list_tokens()) == 3

    # login sessions ----------------------------------------------------------------
    def test_sessions_by_hash_touch_and_delete(self, store: AuthStore) -> None:
        made = store.create_session(session(), HASH_A)
        assert store.session_by_hash(HASH_A) == made
        assert store.session_by_hash(HASH_B) is None
        store.touch_session("s1", T0 + 5)
        found = store.session_by_hash(HASH_A)
        assert found is not None
        assert (found.last_seen_at, found.created_at) == (T0 + 5, T0)
        with pytest.raises(AlreadyExists, match="session 's1' already exists"):
            store.create_session(session(), HASH_B)
        store.delete_session("s1")
        assert store.session_by_hash(HASH_A) is None
        calls: tuple[Callable[[], object], ...] = (
            lambda: store.delete_session("s1"),
            lambda: store.touch_session("s1", T0),
        )
        for call in calls:
            with pytest.raises(NotFound, match="session 's1' not found"):
                call()

    def test_a_session_moves_to_another_tenant_and_keeps_the_rest(
        self, store: AuthStore, audit_log: AuditLog
    ) -> None:
        store.create_tenant("team-b")
        made = store.create_session(session(), HASH_A)
        store.create_session(session("s2"), HASH_B)
        before = len(events(audit_log))
        moved = store.set_session_tenant("s1", "team-b")
        assert moved == Session("s1", "alice", "team-b", T0, T0, made.expires_at)
        assert store.session_by_hash(HASH_A) == moved
        other = store.session_by_hash(HASH_B)
        assert other is not None
        assert other.tenant == "team-a"  # only the one named moved
        assert store.set_session_tenant("s1", "team-b") == moved  # again: no change
        with pytest.raises(NotFound, match="workspace 'nope' not found"):
            store.set_session_tenant("s1", "nope")
        with pytest.raises(NotFound, match="session 's9' not found"):
            store.set_session_tenant("s9", "team-a")
        assert store.session_by_hash(HASH_A) == moved
        assert len(events(audit_log)) == before  # the service audits the switch

    def test_expired_and_idle_sessions_are_deleted(self, store: AuthStore) -> None:
        hour = 3_600_000
        store.create_session(Session("old", "alice", "team-a", T0, T0 + hour, T0 + hour), "1" * 64)
        store.create_session(Session("idle", "alice", "team-a", T0, T0, T0 + 9 * hour), "2" * 64)
        store.create_session(
            Session("live", "alice", "team-a", T0, T0 + hour, T0 + 9 * hour), "3" * 64
        )
        assert store.delete_expired_sessions(T0 + hour, idle_ms=hour // 2) == 2
        assert store.session_by_hash("3" * 64) is not None
        assert store.session_by_hash("1" * 64) is None
        assert store.session_by_hash("2" * 64) is None
        assert store.delete_expired_sessions(T0 + hour, idle_ms=hour // 2) == 0

    def test_a_users_sessions_are_deleted_together(
        self, store: AuthStore, audit_log: AuditLog
    ) -> None:
        store.create_user("bob", None)
        store.create_session(session("s1"), "1" * 64)
        store.create_session(session("s2", tenant=DEFAULT_TENANT), "2" * 64)
        store.create_session(session("s3", user="bob"), "3" * 64)
        before = len(events(audit_log))
        assert store.delete_user_sessions("alice") == 2
        assert store.session_by_hash("1" * 64) is None
        assert store.session_by_hash("2" * 64) is None
        assert store.session_by_hash("3" * 64) is not None  # bob's stays
        assert store.delete_user_sessions("alice") == 0
        assert len(events(audit_log)) == before  # the change that called for it is audited
        with pytest.raises(NotFound, match="user 'nobody' not found"):
            store.delete_user_sessions("nobody")
