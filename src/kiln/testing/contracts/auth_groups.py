"""The group-derived memberships part of the ``AuthStore`` contract (rules:
``kiln.store.rules.group_sync``): mixed into ``AuthStoreContract``, with its
``store`` (tenant ``team-a``, user ``alice``) and ``audit_log`` fixtures.

What it proves: a grant's origin is ``grant``; a directory login's sync sets the
group-derived memberships exactly (added, raised, lowered, removed) and never
touches a grant; unbinding or re-binding a group re-reads at once what it gave,
audited in the same change; a token's grant sees the membership's removal at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from kiln.entities.auth import ApiToken, Membership, Role
from kiln.errors import NotFound
from kiln.store.audit_context import acting_as
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore
from kiln.testing.contracts.auth_support import events, lines_since
from kiln.testing.contracts.support import T0

ML = "cn=ml,ou=groups,dc=kiln,dc=test"
OPS = "ops"


def _setup(store: AuthStore) -> None:
    """Tenants team-a and team-b; ML gives member in team-a and viewer in team-b, OPS
    project-admin in team-a."""
    store.create_tenant("team-b")
    store.set_group_binding(ML, "team-a", Role.MEMBER)
    store.set_group_binding(ML, "team-b", Role.VIEWER)
    store.set_group_binding(OPS, "team-a", Role.PROJECT_ADMIN)


def _group(tenant: str, role: Role, *groups: str) -> Membership:
    return Membership("alice", tenant, role, "group", tuple(sorted(groups)))


def _race(
    start: threading.Barrier, write: Callable[[], object], errors: list[BaseException]
) -> None:
    start.wait()
    try:
        write()
    except Exception as error:  # any failure fails the test that collects them
        errors.append(error)


class GroupMembershipContract:
    """Needs the ``store`` and ``audit_log`` fixtures of ``AuthStoreContract``."""

    def test_a_grant_has_the_origin_grant(self, store: AuthStore) -> None:
        made = store.set_membership("alice", "team-a", Role.MEMBER)
        assert (made.origin, made.groups) == ("grant", ())
        assert store.list_memberships(user="alice") == [Membership("alice", "team-a", Role.MEMBER)]
        assert store.list_memberships()[0].origin == "grant"

    def test_the_sync_gives_the_highest_bound_role_per_tenant(self, store: AuthStore) -> None:
        _setup(store)
        store.set_group_binding("unrelated", "team-b", Role.PROJECT_ADMIN)
        # DirectoryUser.groups are lower-cased; a binding matches lower-cased too
        synced = store.sync_group_memberships("alice", {ML, OPS, "cn=other"})
        expected = [
            _group("team-a", Role.PROJECT_ADMIN, ML, OPS),
            _group("team-b", Role.VIEWER, ML),
        ]
        assert list(synced) == expected
        assert store.list_memberships(user="alice") == expected
        assert store.role_of("alice", "team-a") == Role.PROJECT_ADMIN

    def test_the_sync_lowers_and_removes_what_the_groups_no_longer_give(
        self, store: AuthStore
    ) -> None:
        _setup(store)
        store.sync_group_memberships("alice", {ML, OPS})
        lowered = store.sync_group_memberships("alice", {ML})  # left ops
        assert list(lowered) == [
            _group("team-a", Role.MEMBER, ML),
            _group("team-b", Role.VIEWER, ML),
        ]
        assert list(store.sync_group_memberships("alice", set())) == []  # left every group
        assert store.role_of("alice", "team-a") is None
        assert store.role_of("alice", "team-b") is None

    def test_the_sync_writes_and_audits_only_changes(
        self, store: AuthStore, audit_log: AuditLog
    ) -> None:
        _setup(store)
        with acting_as("alice"):
            store.sync_group_memberships("alice", {ML})
            since = len(events(audit_log))
            store.sync_group_memberships("alice", {ML})  # nothing changed
            assert len(events(audit_log)) == since
            store.sync_group_memberships("alice", {OPS})
        assert lines_since(audit_log, since) == [
            (
                "member.revoke",
                "user:alice",
                "team-b",
                "alice",
                {"role": "viewer", "origin": "group", "groups": [ML]},
                None,
            ),
            (
                "member.grant",
                "user:alice",
                "team-a",
                "alice",
                {"role": "member", "origin": "group", "groups": [ML]},
                {"role": "project-admin", "origin": "group", "groups": [OPS]},
            ),
        ]

    def test_a_grant_wins_and_the_sync_never_touches_it(self, store: AuthStore) -> None:
        _setup(store)
        store.set_membership("alice", "team-a", Role.VIEWER)  # lower than ML's member
        store.sync_group_memberships("alice", {ML, OPS})
        assert store.list_memberships(user="alice") == [
            Membership("alice", "team-a", Role.VIEWER),
            _group("team-b", Role.VIEWER, ML),
        ]
        store.sync_group_memberships("alice", set())
        assert store.list_memberships(user="alice") == [Membership("alice", "team-a", Role.VIEWER)]

    def test_a_grant_replaces_a_group_derived_membership(
        self, store: AuthStore, audit_log: AuditLog
    ) -> None:
        _setup(store)
        store.sync_group_memberships("alice", {ML})
        since = len(events(audit_log))
        with acting_as("root"):
            store.set_membership("alice", "team-a", Role.MEMBER)
        assert lines_since(audit_log, since) == [
            (
                "member.grant",
                "user:alice",
                "team-a",
                "root",
                {"role": "member", "origin": "group", "groups": [ML]},
                {"role": "member"},
            )
        ]
        store.sync_group_memberships("alice", set())  # the grant stays
        assert store.list_memberships(user="alice") == [Membership("alice", "team-a", Role.MEMBER)]

    def test_a_revoked_group_membership_comes_back_at_the_next_sync(
        self, store: AuthStore, audit_log: AuditLog
    ) -> None:
        _setup(store)
        store.sync_group_memberships("alice", {ML})
        since = len(events(audit_log))
        with acting_as("root"):
            store.delete_membership("alice", "team-b")
        line = lines_since(audit_log, since)[0]
        assert line[4] == {"role": "viewer", "origin": "group", "groups": [ML]}
        store.sync_group_memberships("alice", {ML})  # the group still gives it
        assert store.role_of("alice", "team-b") == Role.VIEWER

    def test_unbinding_removes_at_once_what_the_group_alone_gave(
        self, store: AuthStore, audit_log: AuditLog
    ) -> None:
        _setup(store)
        store.create_user("bob", None, source="ldap")
        store.sync_group_memberships("alice", {ML, OPS})
        store.sync_group_memberships("bob", {OPS})
        store.set_membership("bob", "team-b", Role.MEMBER)  # a grant: not the group's
        since = len(events(audit_log))
        with acting_as("root"):
            store.delete_group_binding(OPS, "team-a")
        assert store.list_memberships(tenant="team-a") == [_group("team-a", Role.MEMBER, ML)]
        assert store.list_memberships(user="bob") == [Membership("bob", "team-b", Role.MEMBER)]
        assert store.role_of("alice", "team-b") == Role.VIEWER  # another tenant: untouched
        revoke_bob = {"role": "project-admin", "origin": "group", "groups": [OPS]}
        lowered = (
            {"role": "project-admin", "origin": "group", "groups": sorted([ML, OPS])},
            {"role": "member", "origin": "group", "groups": [ML]},
        )
        assert lines_since(audit_log, since) == [
            ("group.unbind", f"group:{OPS}", "team-a", "root", {"role": "project-admin"}, None),
            ("member.grant", "user:alice", "team-a", "root", *lowered),
            ("member.revoke", "user:bob", "team-a", "root", revoke_bob, None),
        ]

    def test_rebinding_to_another_role_moves_what_it_gave_at_once(
        self, store: AuthStore, audit_log: AuditLog
    ) -> None:
        _setup(store)
        store.sync_group_memberships("alice", {ML})
        store.set_group_binding(ML, "team-a", Role.VIEWER)
        assert store.role_of("alice", "team-a") == Role.VIEWER
        since = len(events(audit_log))
        store.set_group_binding(ML, "team-a", Role.VIEWER)  # the same role: no member line
        assert [line[0] for line in lines_since(audit_log, since)] == ["group.bind"]

    def test_a_token_loses_its_role_when_the_groups_take_it_away(self, store: AuthStore) -> None:
        _setup(store)
        store.sync_group_memberships("alice", {ML})
        made = ApiToken("t1", "alice", "team-a", Role.MEMBER, name="ci", created_at=T0)
        store.create_token(made, "a" * 64)
        grant = store.token_grant("a" * 64)
        assert grant is not None
        assert grant.role == Role.MEMBER
        store.delete_group_binding(ML, "team-a")
        grant = store.token_grant("a" * 64)
        assert grant is not None
        assert grant.role is None  # the service answers 404 in team-a from now on

    def test_a_deleted_tenant_takes_its_group_memberships(self, store: AuthStore) -> None:
        _setup(store)
        store.sync_group_memberships("alice", {ML})
        store.delete_tenant("team-b")
        store.create_tenant("team-b")
        assert store.role_of("alice", "team-b") is None
        store.set_membership("alice", "team-b", Role.MEMBER)
        synced = store.sync_group_memberships("alice", set())
        assert list(synced) == [Membership("alice", "team-b", Role.MEMBER)]

    def test_a_sync_racing_a_grant_fails_neither_and_the_grant_stays(
        self, store: AuthStore
    ) -> None:
        _setup(store)
        for _ in range(5):
            errors: list[BaseException] = []
            start = threading.Barrier(2)
            writers = [
                lambda: store.sync_group_memberships("alice", {ML}),
                lambda: store.set_membership("alice", "team-a", Role.VIEWER),
            ]
            threads = [
                threading.Thread(target=_race, args=(start, write, errors)) for write in writers
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert errors == []
            assert store.list_memberships(tenant="team-a") == [
                Membership("alice", "team-a", Role.VIEWER)
            ]
            store.delete_membership("alice", "team-a")

    def test_syncing_a_missing_user_is_not_found(self, store: AuthStore) -> None:
        with pytest.raises(NotFound, match="user 'nobody' not found"):
            store.sync_group_memberships("nobody", {ML})


__all__ = ["GroupMembershipContract"]
