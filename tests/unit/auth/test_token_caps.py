"""What a token capped below its user's role may do with its user's other tokens:
list them all (no secrets), revoke itself and those of its own workspace up to its
role, never a stronger one nor one of another workspace."""

from __future__ import annotations

import pytest

from kiln.auth.principal import Principal
from kiln.entities.auth import ApiToken, Role
from kiln.errors import PermissionDenied
from kiln.testing.auth_world import World


def _with_token(world: World, secret: str) -> Principal:
    identity = world.service.identity_for_token(secret)
    assert identity is not None
    return world.service.principal(identity, None)


def _tokens(world: World) -> tuple[Principal, dict[str, tuple[ApiToken, str]]]:
    """``boss``: project-admin in team-a, member in team-b, with a token of each kind."""
    password = world.user("boss", "team-a", Role.PROJECT_ADMIN)
    world.service.grant(world.admin, "boss", "team-b", Role.MEMBER)
    boss = world.as_user("boss", password, "team-a")
    in_b = world.as_user("boss", password, "team-b")
    made = {
        name: world.service.create_token(boss, name=name, role=role)
        for name, role in (
            ("admin", Role.PROJECT_ADMIN),
            ("member", Role.MEMBER),
            ("viewer", Role.VIEWER),
            ("viewer2", Role.VIEWER),
        )
    }
    made["b-viewer"] = world.service.create_token(in_b, name="b-viewer", role=Role.VIEWER)
    return boss, made


def test_a_capped_token_lists_but_cannot_revoke_stronger_tokens(world: World) -> None:
    _, made = _tokens(world)
    viewer = _with_token(world, made["viewer"][1])
    assert viewer.role == Role.VIEWER
    listed = [t.name for t in world.service.list_tokens(viewer)]
    assert sorted(listed) == ["admin", "b-viewer", "member", "viewer", "viewer2"]
    for name, where in (("admin", "project-admin"), ("member", "member")):
        with pytest.raises(PermissionDenied, match=f"is {where} in 'team-a'.*viewer token"):
            world.service.revoke_token(viewer, made[name][0].token_id)
    # another workspace's token, however weak: out of this token's reach
    with pytest.raises(PermissionDenied, match="viewer in 'team-b'"):
        world.service.revoke_token(viewer, made["b-viewer"][0].token_id)
    for name in ("admin", "member", "b-viewer"):
        assert world.service.identity_for_token(made[name][1]) is not None
    assert world.actions().count("token.revoke") == 0
    assert world.service.revoke_token(viewer, made["viewer2"][0].token_id).revoked_at
    assert world.service.revoke_token(viewer, made["viewer"][0].token_id).revoked_at  # itself
    assert world.service.identity_for_token(made["viewer"][1]) is None


def test_a_member_token_revokes_up_to_member(world: World) -> None:
    _, made = _tokens(world)
    member = _with_token(world, made["member"][1])
    with pytest.raises(PermissionDenied, match="is project-admin in 'team-a'"):
        world.service.revoke_token(member, made["admin"][0].token_id)
    assert world.service.revoke_token(member, made["viewer"][0].token_id).revoked_at


def test_a_password_and_an_uncapped_token_revoke_any_of_the_users_tokens(
    world: World,
) -> None:
    boss, made = _tokens(world)
    full = _with_token(world, made["admin"][1])
    assert full.identity.role_cap is None  # project-admin: acts as the user
    assert world.service.revoke_token(full, made["b-viewer"][0].token_id).revoked_at
    assert world.service.revoke_token(full, made["member"][0].token_id).revoked_at
    assert world.service.revoke_token(boss, made["admin"][0].token_id).revoked_at


def test_an_admins_capped_token_cannot_revoke_its_full_token(world: World) -> None:
    full, _ = world.service.create_token(world.admin, name="full")
    _, secret = world.service.create_token(world.admin, name="ro", role=Role.VIEWER)
    capped = _with_token(world, secret)
    with pytest.raises(PermissionDenied, match="is project-admin in 'default'"):
        world.service.revoke_token(capped, full.token_id)
    assert world.store.inner.get_token(full.token_id).revoked_at is None
