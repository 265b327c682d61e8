"""The audit part of the ``AuthStore`` contract: mixed into ``AuthStoreContract``,
with its ``auth_store``, ``store`` (tenant ``team-a``, user ``alice``) and
``audit_log`` fixtures.

What it proves: each audited write appends exactly one line with its action,
resource, tenant, actor and before/after (never a password hash), the chain
verifies, and a refused write appends none.
"""

from __future__ import annotations

import pytest

from kiln.entities.auth import DEFAULT_TENANT, Quota, Role
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.audit_context import acting_as
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore
from kiln.testing.contracts.auth_support import HASH_A, HASH_B, events, session, shape, token
from kiln.testing.contracts.support import T0


class AuthAuditContract:
    """Mixed into ``AuthStoreContract``: the audit lines of its writes."""

    # audit -------------------------------------------------------------------------
    def test_each_audited_write_writes_one_line(
        self, auth_store: AuthStore, audit_log: AuditLog
    ) -> None:
        with acting_as("root"):
            auth_store.create_tenant("team-a", "A")
            auth_store.update_tenant("team-a", description="B")
            auth_store.create_user("alice", "secret-hash")
            auth_store.set_password_hash("alice", "other-secret-hash")
            auth_store.set_user_flags("alice", disabled=True, is_admin=True)
            auth_store.set_user_flags("alice", disabled=False)
            auth_store.set_membership("alice", "team-a", Role.VIEWER)
            auth_store.set_membership("alice", "team-a", Role.MEMBER)
            auth_store.delete_membership("alice", "team-a")
            auth_store.set_group_binding("cn=ml", "team-a", Role.VIEWER)
            auth_store.delete_group_binding("cn=ml", "team-a")
            auth_store.set_quota(Quota("team-a", cpus=2))
            auth_store.create_token(token(), HASH_A)
            auth_store.revoke_token("t1", T0 + 1)
            auth_store.revoke_token("t1", T0 + 2)  # already revoked: no change, no line
            auth_store.touch_token("t1", T0 + 3)  # not audited
            auth_store.create_session(session(), HASH_B)  # logins are the caller's
            auth_store.delete_tenant("team-a")
        tenant_a = {"name": "team-a", "description": "A", "default_artifact_root": None}
        tenant_b = {**tenant_a, "description": "B"}
        no_quota = {"cpus": None, "gpus": None, "memory_mb": None}
        assert [shape(e) for e in events(audit_log)] == [
            ("tenant.create", "tenant:team-a", "team-a", "root", None, tenant_a),
            ("tenant.update", "tenant:team-a", "team-a", "root", tenant_a, tenant_b),
            (
                "user.create",
                "user:alice",
                DEFAULT_TENANT,
                "root",
                None,
                {"name": "alice", "is_admin": False, "source": "local"},
            ),
            ("user.password", "user:alice", DEFAULT_TENANT, "root", None, None),
            (
                "user.admin",
                "user:alice",
                DEFAULT_TENANT,
                "root",
                {"is_admin": False},
                {"is_admin": True},
            ),
            (
                "user.disable",
                "user:alice",
                DEFAULT_TENANT,
                "root",
                {"disabled": False},
                {"disabled": True},
            ),
            (
                "user.enable",
                "user:alice",
                DEFAULT_TENANT,
                "root",
                {"disabled": True},
                {"disabled": False},
            ),
            ("member.grant", "user:alice", "team-a", "root", None, {"role": "viewer"}),
            (
                "member.grant",
                "user:alice",
                "team-a",
                "root",
                {"role": "viewer"},
                {"role": "member"},
            ),
            ("member.revoke", "user:alice", "team-a", "root", {"role": "member"}, None),
            ("group.bind", "group:cn=ml", "team-a", "root", None, {"role": "viewer"}),
            ("group.unbind", "group:cn=ml", "team-a", "root", {"role": "viewer"}, None),
            ("quota.set", "tenant:team-a", "team-a", "root", no_quota, {**no_quota, "cpus": 2}),
            (
                "token.create",
                "token:t1",
                "team-a",
                "root",
                None,
                {
                    "token_id": "t1",
                    "user": "alice",
                    "tenant": "team-a",
                    "role": "member",
                    "name": "ci",
                    "expires_at": None,
                },
            ),
            (
                "token.revoke",
                "token:t1",
                "team-a",
                "root",
                {"revoked_at": None},
                {"revoked_at": T0 + 1},
            ),
            ("tenant.delete", "tenant:team-a", "team-a", "root", tenant_b, None),
        ]
        assert "secret-hash" not in repr(events(audit_log))
        assert audit_log.verify() is None

    def test_a_refused_write_writes_no_line(self, store: AuthStore, audit_log: AuditLog) -> None:
        before = len(events(audit_log))
        with pytest.raises(AlreadyExists, match="already exists"):
            store.create_tenant("team-a")
        with pytest.raises(AlreadyExists, match="already exists"):
            store.create_user("alice", None)
        with pytest.raises(NotFound, match="not found"):
            store.set_membership("alice", "nope", Role.VIEWER)
        with pytest.raises(NotFound, match="no role"):
            store.delete_membership("alice", "team-a")
        with pytest.raises(InvalidInput, match="cannot be deleted"):
            store.delete_tenant(DEFAULT_TENANT)
        assert len(events(audit_log)) == before
