"""The contract every ``AuthStore`` passes (see ``kiln.store.protocols.auth``).

A backend's test class subclasses ``AuthStoreContract`` and provides three
fixtures: ``auth_store`` (a fresh store: ``default`` is its only tenant, no user),
``audit_log`` (the ``AuditLog`` its audited writes land in) and ``hold_data`` (a
callable ``hold_data(tenant, kind)`` that puts one object of ``kind`` (see
``HELD_KINDS``) into ``tenant`` in the same database, through the stores of that
tenant)::

    class TestMemoryAuth(AuthStoreContract):
        @pytest.fixture
        def auth_store(self, audit_log: MemoryAuditLog) -> AuthStore:
            return MemoryAuthStore(audit=audit_log)
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from kiln.entities.auth import (
    DEFAULT_TENANT,
    GroupBinding,
    Membership,
    PasswordGrant,
    Quota,
    Role,
    Tenant,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore
from kiln.testing.contracts.auth_audit import AuthAuditContract
from kiln.testing.contracts.auth_groups import GroupMembershipContract
from kiln.testing.contracts.auth_purge import TenantPurgeContract
from kiln.testing.contracts.auth_support import (
    HASH_A,
    HASH_B,
    events,
    session,
    token,
)
from kiln.testing.contracts.auth_tokens import TokenSessionContract

HoldData = Callable[[str, str], None]
HELD_KINDS = ("run", "experiment", "registered_model", "logged_model")
"""What ``hold_data(tenant, kind)`` puts into a tenant; kind ``open`` only opens a
tracking store there (which makes its empty ``Default`` experiment)."""


class AuthStoreContract(
    TenantPurgeContract, GroupMembershipContract, TokenSessionContract, AuthAuditContract
):
    """Subclass in a test module that defines ``auth_store``, ``audit_log``, ``hold_data``."""

    @pytest.fixture
    def store(self, auth_store: AuthStore) -> AuthStore:
        """``auth_store`` with tenant ``team-a`` and user ``alice`` in it."""
        auth_store.create_tenant("team-a", "Team A")
        auth_store.create_user("alice", "argon2-hash")
        return auth_store

    # tenants -----------------------------------------------------------------------
    def test_default_exists_from_the_start_and_cannot_go(self, auth_store: AuthStore) -> None:
        assert [t.name for t in auth_store.list_tenants()] == [DEFAULT_TENANT]
        assert auth_store.get_tenant(DEFAULT_TENANT).default_artifact_root is None
        with pytest.raises(InvalidInput, match="'default' workspace cannot be deleted"):
            auth_store.delete_tenant(DEFAULT_TENANT)
        assert auth_store.get_tenant(DEFAULT_TENANT).name == DEFAULT_TENANT

    def test_tenants_are_created_listed_by_name_and_unique(self, auth_store: AuthStore) -> None:
        made = auth_store.create_tenant("zeta", "Z", default_artifact_root="s3://b/zeta")
        auth_store.create_tenant("alpha")
        assert made == auth_store.get_tenant("zeta")
        assert (made.description, made.default_artifact_root) == ("Z", "s3://b/zeta")
        assert made.created_at > 0
        assert [t.name for t in auth_store.list_tenants()] == ["alpha", DEFAULT_TENANT, "zeta"]
        with pytest.raises(AlreadyExists, match="'alpha' already exists"):
            auth_store.create_tenant("alpha", "again")
        assert auth_store.get_tenant("alpha").description == ""

    def test_update_changes_only_what_is_given(self, auth_store: AuthStore) -> None:
        auth_store.create_tenant("t", "old", "s3://old")
        assert auth_store.update_tenant("t", description="new") == Tenant(
            "t", "new", auth_store.get_tenant("t").created_at, "s3://old"
        )
        updated = auth_store.update_tenant("t", default_artifact_root="s3://new")
        assert (updated.description, updated.default_artifact_root) == ("new", "s3://new")
        assert auth_store.get_tenant("t") == updated

    def test_missing_tenants_are_not_found(self, auth_store: AuthStore) -> None:
        for call in (
            lambda: auth_store.get_tenant("nope"),
            lambda: auth_store.update_tenant("nope", description="x"),
            lambda: auth_store.delete_tenant("nope"),
            lambda: auth_store.tenant_holds_data("nope"),
            lambda: auth_store.get_quota("nope"),
            lambda: auth_store.set_quota(Quota("nope", cpus=1)),
            lambda: auth_store.list_group_bindings("nope"),
            lambda: auth_store.set_group_binding("g", "nope", Role.VIEWER),
        ):
            with pytest.raises(NotFound, match="workspace 'nope' not found"):
                call()

    def test_tenant_holds_data_sees_each_kind_of_object(
        self, auth_store: AuthStore, hold_data: HoldData
    ) -> None:
        auth_store.create_tenant("visited")
        hold_data("visited", "open")  # the Default experiment a first open makes
        assert not auth_store.tenant_holds_data("visited")
        for kind in HELD_KINDS:
            tenant = kind.replace("_", "-")
            auth_store.create_tenant(tenant)
            hold_data(tenant, kind)
            assert auth_store.tenant_holds_data(tenant), kind
        assert not auth_store.tenant_holds_data("visited")

    def test_deleting_a_tenant_takes_what_hangs_off_it(self, store: AuthStore) -> None:
        store.create_tenant("team-b")
        store.set_membership("alice", "team-a", Role.MEMBER)
        store.set_membership("alice", "team-b", Role.VIEWER)
        store.set_group_binding("cn=ml", "team-a", Role.MEMBER)
        store.set_quota(Quota("team-a", cpus=4))
        store.create_token(token(), HASH_A)
        store.create_session(session(), HASH_B)
        store.delete_tenant("team-a")
        assert [t.name for t in store.list_tenants()] == [DEFAULT_TENANT, "team-b"]
        assert store.list_memberships(user="alice") == [Membership("alice", "team-b", Role.VIEWER)]
        assert store.list_group_bindings() == []
        assert store.token_grant(HASH_A) is None
        assert store.list_tokens(user="alice") == []
        assert store.session_by_hash(HASH_B) is None
        with pytest.raises(NotFound, match="token 't1' not found"):
            store.get_token("t1")
        store.create_tenant("team-a")  # the name is free again, and nothing comes back
        assert store.get_quota("team-a") == Quota("team-a")
        assert store.role_of("alice", "team-a") is None

    # users -------------------------------------------------------------------------
    def test_users_keep_their_password_hash_apart(self, auth_store: AuthStore) -> None:
        made = auth_store.create_user("bob", "hash-1", is_admin=True)
        auth_store.create_user("al.ice@x", None, source="ldap")
        assert made == auth_store.get_user("bob")
        assert (made.is_admin, made.disabled, made.source) == (True, False, "local")
        assert made.created_at > 0
        assert not hasattr(made, "password_hash")
        assert auth_store.get_password_hash("bob") == "hash-1"
        assert auth_store.get_password_hash("al.ice@x") is None
        assert auth_store.get_user("al.ice@x").source == "ldap"
        assert [u.name for u in auth_store.list_users()] == ["al.ice@x", "bob"]
        auth_store.set_password_hash("bob", "hash-2")
        assert auth_store.get_password_hash("bob") == "hash-2"
        auth_store.set_password_hash("bob", None)
        assert auth_store.get_password_hash("bob") is None
        with pytest.raises(AlreadyExists, match="user 'bob' already exists"):
            auth_store.create_user("bob", "other")

    def test_password_grant_reads_the_user_its_hash_and_its_roles(self, store: AuthStore) -> None:
        assert store.password_grant("nobody") is None
        assert store.password_grant("alice") == PasswordGrant(
            store.get_user("alice"), "argon2-hash", ()
        )
        store.create_tenant("team-b")
        store.set_membership("alice", "team-b", Role.VIEWER)
        store.set_membership("alice", "team-a", Role.MEMBER)
        store.create_user("bob", None, source="ldap")
        store.set_membership("bob", "team-a", Role.PROJECT_ADMIN)
        store.set_user_flags("alice", disabled=True)
        store.set_password_hash("alice", "argon2-hash-2")
        grant = store.password_grant("alice")
        assert grant is not None
        assert grant.user == store.get_user("alice")
        assert grant.user.disabled
        assert grant.password_hash == "argon2-hash-2"
        assert grant.roles == (("team-a", Role.MEMBER), ("team-b", Role.VIEWER))
        bob = PasswordGrant(store.get_user("bob"), None, (("team-a", Role.PROJECT_ADMIN),))
        assert store.password_grant("bob") == bob

    def test_user_flags_change_only_what_is_given(self, store: AuthStore) -> None:
        assert store.set_user_flags("alice", disabled=True).disabled
        both = store.set_user_flags("alice", is_admin=True)
        assert (both.is_admin, both.disabled) == (True, True)
        assert store.get_user("alice") == both
        assert not store.set_user_flags("alice", disabled=False).disabled
        assert store.get_user("alice").is_admin

    def test_missing_users_are_not_found(self, store: AuthStore) -> None:
        for call in (
            lambda: store.get_user("nobody"),
            lambda: store.get_password_hash("nobody"),
            lambda: store.set_password_hash("nobody", "h"),
            lambda: store.set_user_flags("nobody", disabled=True),
            lambda: store.set_membership("nobody", "team-a", Role.VIEWER),
            lambda: store.delete_membership("nobody", "team-a"),
            lambda: store.role_of("nobody", "team-a"),
            lambda: store.list_memberships(user="nobody"),
            lambda: store.list_tokens(user="nobody"),
            lambda: store.create_token(token(user="nobody"), HASH_A),
            lambda: store.create_session(session(user="nobody"), HASH_B),
        ):
            with pytest.raises(NotFound, match="user 'nobody' not found"):
                call()

    # memberships and group bindings ------------------------------------------------
    def test_set_membership_grants_then_changes_a_role(self, store: AuthStore) -> None:
        store.create_user("bob", None)
        assert store.role_of("alice", "team-a") is None
        assert store.set_membership("alice", "team-a", Role.VIEWER) == Membership(
            "alice", "team-a", Role.VIEWER
        )
        store.set_membership("alice", "team-a", Role.PROJECT_ADMIN)
        store.set_membership("bob", "team-a", Role.MEMBER)
        store.set_membership("alice", DEFAULT_TENANT, Role.MEMBER)
        assert store.role_of("alice", "team-a") is Role.PROJECT_ADMIN
        assert store.list_memberships(tenant="team-a") == [
            Membership("alice", "team-a", Role.PROJECT_ADMIN),
            Membership("bob", "team-a", Role.MEMBER),
        ]
        assert store.list_memberships(user="alice") == [
            Membership("alice", DEFAULT_TENANT, Role.MEMBER),
            Membership("alice", "team-a", Role.PROJECT_ADMIN),
        ]
        assert len(store.list_memberships()) == 3
        assert store.list_memberships(user="alice", tenant="team-a") == [
            Membership("alice", "team-a", Role.PROJECT_ADMIN)
        ]

    def test_delete_membership(self, store: AuthStore) -> None:
        store.set_membership("alice", "team-a", Role.MEMBER)
        store.delete_membership("alice", "team-a")
        assert store.role_of("alice", "team-a") is None
        with pytest.raises(NotFound, match="'alice' has no role in workspace 'team-a'"):
            store.delete_membership("alice", "team-a")
        with pytest.raises(NotFound, match="workspace 'nope' not found"):
            store.role_of("alice", "nope")

    def test_group_bindings(self, store: AuthStore) -> None:
        store.create_tenant("team-b")
        dn = "cn=ml,ou=groups,dc=kiln,dc=test"
        assert store.set_group_binding(dn, "team-b", Role.VIEWER) == GroupBinding(
            dn, "team-b", Role.VIEWER
        )
        store.set_group_binding(dn, "team-b", Role.MEMBER)
        store.set_group_binding(dn, "team-a", Role.PROJECT_ADMIN)
        assert store.list_group_bindings() == [
            GroupBinding(dn, "team-a", Role.PROJECT_ADMIN),
            GroupBinding(dn, "team-b", Role.MEMBER),
        ]
        assert store.list_group_bindings("team-b") == [GroupBinding(dn, "team-b", Role.MEMBER)]
        store.delete_group_binding(dn, "team-b")
        assert store.list_group_bindings("team-b") == []
        with pytest.raises(NotFound, match=r"'cn=ml.*' is not bound to workspace 'team-b'"):
            store.delete_group_binding(dn, "team-b")

    # quotas ------------------------------------------------------------------------
    def test_quota_is_unlimited_until_set(self, store: AuthStore) -> None:
        assert store.get_quota("team-a") == Quota("team-a")
        store.set_quota(Quota("team-a", cpus=8, gpus=0.5, memory_mb=65536))
        assert store.get_quota("team-a") == Quota("team-a", 8, 0.5, 65536)
        store.set_quota(Quota("team-a", gpus=2))
        assert store.get_quota("team-a") == Quota("team-a", None, 2, None)

    # limits ------------------------------------------------------------------------
    def test_values_longer_than_their_column_are_refused(
        self, store: AuthStore, audit_log: AuditLog
    ) -> None:
        before = len(events(audit_log))
        longest_dn = "cn=" + "g" * 509
        store.set_group_binding(longest_dn, "team-a", Role.VIEWER)
        assert store.list_group_bindings("team-a")[0].group == longest_dn
        calls: tuple[tuple[str, Callable[[], object]], ...] = (
            ("a group", lambda: store.set_group_binding(longest_dn + "x", "team-a", Role.VIEWER)),
            ("a workspace name", lambda: store.create_tenant("t" * 64)),
            ("a default artifact root", lambda: store.create_tenant("x", "", "s3://" + "r" * 2000)),
            (
                "a default artifact root",
                lambda: store.update_tenant("team-a", default_artifact_root="r" * 2001),
            ),
            ("a user name", lambda: store.create_user("u" * 65, None)),
            ("a user source", lambda: store.create_user("bob", None, source="s" * 17)),
            ("a token id", lambda: store.create_token(token("t" * 33), HASH_A)),
            ("a token hash", lambda: store.create_token(token(), HASH_A + "0")),
            ("a session id", lambda: store.create_session(session("s" * 33), HASH_B)),
        )
        for what, call in calls:
            with pytest.raises(InvalidInput, match=f"^{what} is longer than"):
                call()
        assert len(events(audit_log)) == before + 1
        assert [t.name for t in store.list_tenants()] == [DEFAULT_TENANT, "team-a"]
        assert store.list_tokens() == []

    # concurrency -------------------------------------------------------------------
    def test_concurrent_creates_of_one_name_make_one(
        self, auth_store: AuthStore, audit_log: AuditLog
    ) -> None:
        outcomes: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(6)

        def create() -> None:
            start.wait()
            try:
                auth_store.create_user("racer", None)
                outcome = "made"
            except AlreadyExists:
                outcome = "taken"
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=create) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["made"] + ["taken"] * 5
        assert [e.action for e in events(audit_log)] == ["user.create"]
        assert audit_log.verify() is None


__all__ = [
    "HASH_A",
    "HASH_B",
    "HELD_KINDS",
    "AuthStoreContract",
    "HoldData",
    "events",
    "session",
    "token",
]
