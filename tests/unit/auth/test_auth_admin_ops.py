"""Who may manage tenants, users, roles, groups and quotas, and what the audit log
gets (from the stores, once per change)."""

from __future__ import annotations

import pytest

from kiln.auth.passwords import verify_password
from kiln.entities.auth import Quota, Role
from kiln.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from kiln.store.memory.tracking import MemoryTrackingStore
from kiln.testing.auth_world import ADMIN_PASSWORD, World


def test_only_admins_manage_tenants_and_users(world: World) -> None:
    boss = world.as_user("boss", world.user("boss", "team-a", Role.PROJECT_ADMIN))
    for call in (
        lambda: world.service.create_tenant(boss, "team-c"),
        lambda: world.service.delete_tenant(boss, "team-b"),
        lambda: world.service.update_tenant(boss, "team-a", description="x"),
        lambda: world.service.create_user(boss, "mallory"),
        lambda: world.service.set_password(boss, "boss"),
        lambda: world.service.disable_user(boss, "admin"),
        lambda: world.service.set_admin(boss, "boss", True),
        lambda: world.service.list_users(boss),
        lambda: world.service.set_quota(boss, Quota("team-a", cpus=1)),
        lambda: world.service.bind_group(boss, "g", "team-a", Role.MEMBER),
        lambda: world.service.list_group_bindings(boss),
    ):
        with pytest.raises(PermissionDenied, match="only an administrator may"):
            call()


def test_tenant_lifecycle(world: World) -> None:
    admin = world.admin
    with pytest.raises(InvalidInput, match="reserved"):
        world.service.create_tenant(admin, "api")
    with pytest.raises(AlreadyExists, match="team-a"):
        world.service.create_tenant(admin, "team-a")
    tenant = world.service.update_tenant(admin, "team-a", description="Team A")
    assert tenant.description == "Team A"
    assert [t.name for t in world.service.list_tenants(admin)] == ["default", "team-a", "team-b"]
    with pytest.raises(InvalidInput, match="'default' workspace cannot be deleted"):
        world.service.delete_tenant(admin, "default")
    MemoryTrackingStore(workspace="team-b", state=world.tracking).create_experiment("exp")
    with pytest.raises(Conflict, match="'team-b' still holds experiments"):
        world.service.delete_tenant(admin, "team-b")
    world.service.delete_tenant(admin, "team-b", force=True)
    with pytest.raises(NotFound, match="team-b"):
        world.service.delete_tenant(admin, "team-b")
    assert world.actions().count("tenant.delete") == 1


def test_force_deletes_the_tenants_records_so_its_name_comes_back_empty(world: World) -> None:
    admin, deleted = world.admin, []
    world.service.tenant_listeners.append(deleted.append)
    store = MemoryTrackingStore(workspace="team-b", state=world.tracking)
    store.create_run(store.create_experiment("exp"))
    MemoryTrackingStore(workspace="team-a", state=world.tracking).create_experiment("exp")
    world.service.delete_tenant(admin, "team-b", force=True)
    assert deleted == ["team-b"]
    line = world.audit.list_events(max_results=1).items[0]
    assert (line.action, line.actor) == ("tenant.delete", "admin")
    assert line.before is not None
    assert line.before["purged"] == {
        "experiments": 2,  # Default and exp
        "runs": 1,
        "registered_models": 0,
        "logged_models": 0,
    }
    world.service.create_tenant(admin, "team-b")
    again = MemoryTrackingStore(workspace="team-b", state=world.tracking)
    assert [e.name for e in again.search_experiments().items] == ["Default"]
    assert not world.store.tenant_holds_data("team-b")
    assert world.store.tenant_holds_data("team-a")


def test_an_empty_tenant_goes_with_its_default_experiment(world: World) -> None:
    MemoryTrackingStore(workspace="team-b", state=world.tracking)  # made Default
    world.service.delete_tenant(world.admin, "team-b")
    assert "team-b" not in world.tracking.defaults
    assert all(e.workspace != "team-b" for e in world.tracking.experiments.values())


def test_members_see_only_their_tenants(world: World) -> None:
    alice = world.as_user("alice", world.user("alice", "team-a", Role.VIEWER))
    assert [t.name for t in world.service.list_tenants(alice)] == ["team-a"]
    assert world.service.get_tenant(alice, "team-a").name == "team-a"
    with pytest.raises(NotFound, match="workspace 'team-b' not found"):
        world.service.get_tenant(alice, "team-b")
    assert world.service.get_quota(alice, "team-a") == Quota("team-a")
    with pytest.raises(NotFound, match="workspace 'team-b' not found"):
        world.service.get_quota(alice, "team-b")


def test_users_and_passwords(world: World) -> None:
    user, generated = world.service.create_user(world.admin, "alice")
    assert generated is not None
    assert len(generated) >= 20
    assert (user.name, user.is_admin, user.source) == ("alice", False, "local")
    _, none = world.service.create_user(world.admin, "bob", password="bob-password")
    assert none is None
    assert verify_password(world.store.inner.get_password_hash("bob"), "bob-password")
    with pytest.raises(InvalidInput, match="8 to 1024 characters"):
        world.service.create_user(world.admin, "carol", password="short")
    with pytest.raises(InvalidInput, match="may only hold"):
        world.service.create_user(world.admin, "bad name")
    with pytest.raises(InvalidInput, match="8 to 1024 characters"):
        world.service.set_password(world.admin, "bob", "short")
    assert world.service.set_password(world.admin, "bob", "bob-password-2") is None
    assert world.service.identity_for_password("bob", "bob-password-2") is not None
    with pytest.raises(Conflict, match="cannot disable yourself"):
        world.service.disable_user(world.admin, "admin")
    with pytest.raises(Conflict, match="own admin rights"):
        world.service.set_admin(world.admin, "admin", False)
    assert world.service.set_admin(world.admin, "bob", True).is_admin
    assert [u.name for u in world.service.list_users(world.admin)] == ["admin", "alice", "bob"]
    assert "bob-password" not in repr(world.audit.list_events(max_results=1000).items)


def test_project_admins_manage_their_own_tenant(world: World) -> None:
    boss = world.as_user("boss", world.user("boss", "team-a", Role.PROJECT_ADMIN), "team-a")
    world.user("alice")
    world.service.grant(boss, "alice", "team-a", Role.MEMBER)
    assert [(m.user, m.role) for m in world.service.list_memberships(boss, tenant="team-a")] == [
        ("alice", Role.MEMBER),
        ("boss", Role.PROJECT_ADMIN),
    ]
    with pytest.raises(PermissionDenied, match="only a project-admin of 'team-b'"):
        world.service.grant(boss, "alice", "team-b", Role.VIEWER)
    with pytest.raises(PermissionDenied, match="only a project-admin of 'team-b'"):
        world.service.list_memberships(boss, tenant="team-b")
    world.service.revoke(boss, "alice", "team-a")
    # the store writes each change's line once: boss's role (by admin), alice's (by boss)
    grants = world.audit.list_events(action="member.grant").items
    assert [(e.actor, e.resource) for e in reversed(grants)] == [
        ("admin", "user:boss"),
        ("boss", "user:alice"),
    ]
    assert world.actions().count("member.revoke") == 1


def test_members_and_capped_tokens_cannot_manage(world: World) -> None:
    member = world.as_user("alice", world.user("alice", "team-a", Role.MEMBER))
    world.user("bob")
    with pytest.raises(PermissionDenied, match="only a project-admin of 'team-a'"):
        world.service.grant(member, "bob", "team-a", Role.VIEWER)
    assert [m.tenant for m in world.service.list_memberships(member, user="alice")] == ["team-a"]
    with pytest.raises(PermissionDenied, match="everyone's memberships"):
        world.service.list_memberships(member)
    boss_password = world.user("boss", "team-a", Role.PROJECT_ADMIN)
    _, secret = world.service.create_token(world.as_user("boss", boss_password), role=Role.MEMBER)
    identity = world.service.identity_for_token(secret)
    assert identity is not None
    capped = world.service.principal(identity, None)
    with pytest.raises(PermissionDenied, match="only a project-admin"):
        world.service.grant(capped, "bob", "team-a", Role.VIEWER)


def test_group_bindings_and_quotas(world: World) -> None:
    admin = world.admin
    binding = world.service.bind_group(admin, " ML-Team ", "team-a", Role.MEMBER)
    assert (binding.group, binding.role) == ("ml-team", Role.MEMBER)  # as the directory says
    with pytest.raises(NotFound, match="no-such"):
        world.service.bind_group(admin, "ml-team", "no-such", Role.MEMBER)
    with pytest.raises(InvalidInput, match="a group is 1 to 512"):
        world.service.bind_group(admin, "  ", "team-a", Role.MEMBER)
    assert world.service.list_group_bindings(admin, "team-a") == [binding]
    world.service.unbind_group(admin, "ML-TEAM", "team-a")
    assert world.service.list_group_bindings(admin) == []
    quota = world.service.set_quota(admin, Quota("team-a", cpus=4, gpus=None, memory_mb=8192))
    assert world.service.get_quota(admin, "team-a") == quota
    with pytest.raises(InvalidInput, match="quota cpus must be >= 0"):
        world.service.set_quota(admin, Quota("team-a", cpus=-1))


def test_bootstrap_keeps_an_existing_admin(world: World) -> None:
    assert world.service.bootstrap_admin(None)
    assert world.service.bootstrap_admin("another-password")
    assert world.service.identity_for_password("admin", ADMIN_PASSWORD) is not None
    assert world.actions().count("user.create") == 1
