"""Kiln's own API JSON (kiln.wire.auth): round trips and request readers that refuse bad input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiln.entities.auth import (
    ApiToken,
    AuditEvent,
    GroupBinding,
    Membership,
    Quota,
    Role,
    Session,
    Tenant,
    User,
)
from kiln.errors import InvalidInput
from kiln.wire import auth as wire

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
times = st.integers(min_value=0, max_value=2**62)
roles = st.sampled_from(list(Role))


@given(st.builds(Tenant, names, st.text(max_size=20), times, st.none() | names))
def test_tenant_round_trip(tenant: Tenant) -> None:
    assert wire.tenant_from_json(wire.tenant_to_json(tenant)) == tenant


sources = st.sampled_from(["local", "ldap"])


@given(st.builds(User, names, st.booleans(), st.booleans(), times, sources))
def test_user_round_trip(user: User) -> None:
    assert wire.user_from_json(wire.user_to_json(user)) == user


@given(
    st.builds(
        ApiToken,
        names,
        names,
        names,
        roles,
        st.text(max_size=10),
        times,
        st.none() | times,
        st.none() | times,
        st.none() | times,
    )
)
def test_token_round_trip_never_holds_a_secret(token: ApiToken) -> None:
    document = wire.token_to_json(token)
    assert wire.token_from_json(document) == token
    assert "token" not in document
    assert "secret" not in document


@given(st.builds(Session, names, names, names, times, times, times))
def test_session_round_trip(session: Session) -> None:
    assert wire.session_from_json(wire.session_to_json(session)) == session


@given(
    st.builds(Membership, names, names, roles),
    st.builds(GroupBinding, names, names, roles),
)
def test_membership_and_binding_round_trip(m: Membership, g: GroupBinding) -> None:
    assert wire.membership_from_json(wire.membership_to_json(m)) == m
    assert wire.group_binding_from_json(wire.group_binding_to_json(g)) == g


@given(st.builds(Membership, names, names, roles, st.just("group"), st.lists(names).map(tuple)))
def test_a_group_derived_membership_round_trips_with_its_groups(m: Membership) -> None:
    doc = wire.membership_to_json(m)
    assert doc["origin"] == "group"
    assert wire.membership_from_json(doc) == m


def test_a_membership_refuses_groups_that_are_not_strings() -> None:
    doc = {"user": "a", "tenant": "t", "role": "viewer", "origin": "group", "groups": [1]}
    with pytest.raises(InvalidInput, match="'groups' must be a list of strings"):
        wire.membership_from_json(doc)


@given(
    st.builds(
        AuditEvent,
        times,
        times,
        names,
        names,
        names,
        names,
        st.none() | st.dictionaries(names, st.integers() | names, max_size=3),
        st.none() | st.dictionaries(names, st.integers() | names, max_size=3),
        st.text(max_size=10),
        st.text(max_size=10),
        st.text(max_size=10),
    )
)
def test_audit_event_round_trip(event: AuditEvent) -> None:
    assert wire.audit_event_from_json(wire.audit_event_to_json(event)) == event


def test_quota_round_trip_and_no_limit_is_null() -> None:
    quota = Quota("team-a", cpus=4.0, gpus=None, memory_mb=2048)
    document = wire.quota_to_json(quota)
    assert document == {"tenant": "team-a", "cpus": 4.0, "gpus": None, "memory_mb": 2048}
    assert wire.quota_from_json(document) == quota


def test_workspace_json_is_mlflows_shape() -> None:
    from mlflow.entities import Workspace
    from mlflow.protos.service_pb2 import Workspace as ProtoWorkspace
    from mlflow.utils.proto_json_utils import parse_dict

    for tenant in (Tenant("team-a", "", 5, None), Tenant("team-b", "ML team", 5, "s3://b/x")):
        proto = ProtoWorkspace()
        parse_dict(wire.workspace_to_json(tenant), proto)
        parsed = Workspace.from_proto(proto)
        assert parsed.name == tenant.name
        assert parsed.description == (tenant.description or None)
        assert parsed.default_artifact_root == tenant.default_artifact_root


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({}, "'name'"),
        ({"name": "a"}, "'password'"),
        ({"name": 3, "password": "x"}, "'name' must be a string"),
        ({"name": "a", "password": ["x"]}, "'password' must be a string"),
        ({"name": "a" * 300, "password": "x"}, "longer than 256"),
        ({"name": "a", "password": "x" * 2000}, "longer than 1024"),
    ],
)
def test_login_request_refuses(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        wire.login_request(fields)


def test_login_request_reads_tenant_or_workspace() -> None:
    assert wire.login_request({"name": "a", "password": "p"}) == ("a", "p", None)
    assert wire.login_request({"name": "a", "password": "p", "workspace": "w"}) == ("a", "p", "w")
    assert wire.login_request({"name": "a", "password": "p", "tenant": "t"}) == ("a", "p", "t")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"role": "owner"}, "unknown role 'owner'"),
        ({"role": 3}, "'role' must be a string"),
        ({"expires_in_days": 0}, "between 1 and 3650"),
        ({"expires_in_days": "soon"}, "must be an integer"),
        ({"expires_in_days": 10**6}, "between 1 and 3650"),
    ],
)
def test_token_request_refuses(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        wire.token_request(fields)


def test_token_request_defaults() -> None:
    assert wire.token_request({}) == ("", None, None, None)
    assert wire.token_request({"name": "ci", "role": "Viewer", "expires_in_days": "30"}) == (
        "ci",
        None,
        Role.VIEWER,
        30,
    )


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"cpus": -1}, "'cpus' must be a number >= 0"),
        ({"gpus": "NaN"}, "'gpus' must be a number >= 0"),
        ({"gpus": "Infinity"}, "'gpus' must be a number >= 0"),
        ({"memory_mb": -5}, "'memory_mb' must be >= 0"),
        ({"cpus": True}, "'cpus' must be a number"),
    ],
)
def test_quota_request_refuses(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        wire.quota_request("t", fields)


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("false", False), (None, None)])
def test_opt_bool(value: object, expected: bool | None) -> None:
    assert wire.opt_bool({"x": value}, "x") is expected


def test_opt_bool_refuses_other_values() -> None:
    with pytest.raises(InvalidInput, match="'x' must be a boolean"):
        wire.opt_bool({"x": "yes"}, "x")
