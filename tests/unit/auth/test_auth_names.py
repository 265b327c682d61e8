"""Tenant names are MLflow 3's workspace names; user names a small quoting-free set."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.auth.names import validate_tenant_name, validate_user_name
from kiln.errors import InvalidInput

PROPERTY = settings(max_examples=300, deadline=None, database=None)

# MLflow's WorkspaceNameValidator rule, restated independently (fullmatch).
MLFLOW_RULE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
RESERVED = {"workspaces", "api", "ajax-api", "static-files"}


@pytest.mark.parametrize("name", ["default", "ab", "team-a", "a1", "0x", "a" * 63, "a-b-c"])
def test_good_tenant_names(name: str) -> None:
    assert validate_tenant_name(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("a", "between 2 and 63"),
        ("a" * 64, "between 2 and 63"),
        ("Team", "must match"),
        ("-ab", "must match"),
        ("ab-", "must match"),
        ("a_b", "must match"),
        ("ab\n", "must match"),  # MLflow's re.match with '$' would take it
        ("a b", "must match"),
        ("ünï", "must match"),
        ("workspaces", "reserved"),
        ("api", "reserved"),
        ("ajax-api", "reserved"),
        ("static-files", "reserved"),
    ],
)
def test_bad_tenant_names_say_why(name: str, rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule):
        validate_tenant_name(name)


def test_a_tenant_name_must_be_a_string() -> None:
    with pytest.raises(InvalidInput, match="must be a string, got int"):
        validate_tenant_name(12)


@PROPERTY
@given(st.text(alphabet="abz09-_A.\n ", max_size=70))
def test_tenant_rule_is_mlflows(name: str) -> None:
    accepted = (
        2 <= len(name) <= 63 and MLFLOW_RULE.fullmatch(name) is not None and name not in RESERVED
    )
    try:
        validate_tenant_name(name)
    except InvalidInput:
        assert not accepted, name
    else:
        assert accepted, name


def test_mlflow_agrees_on_the_examples() -> None:
    """The real mlflow's validator takes and refuses the same names (but a trailing
    newline, which its re.match lets through)."""
    from mlflow.exceptions import MlflowException
    from mlflow.store.workspace.abstract_store import WorkspaceNameValidator

    for name in ["default", "team-a", "a", "Team", "-ab", "api", "a" * 64, "a_b"]:
        try:
            WorkspaceNameValidator.validate(name)
            mlflow_ok = True
        except MlflowException:
            mlflow_ok = False
        try:
            validate_tenant_name(name)
            kiln_ok = True
        except InvalidInput:
            kiln_ok = False
        assert kiln_ok == mlflow_ok, name


@pytest.mark.parametrize("name", ["a", "alice", "Bob.Smith", "c_d", "e@corp.example", "x-1", "9"])
def test_good_user_names(name: str) -> None:
    assert validate_user_name(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "between 1 and 64"),
        ("a" * 65, "between 1 and 64"),
        ("-rf", "not first"),
        ("a b", "may only hold"),
        ("a*)(uid=*", "may only hold"),
        ("a/b", "may only hold"),
        ("al\nice", "may only hold"),
        ("é", "may only hold"),
    ],
)
def test_bad_user_names_say_why(name: str, rule: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(rule)):
        validate_user_name(name)


@PROPERTY
@given(st.text(max_size=70))
def test_user_names_need_no_quoting(name: str) -> None:
    try:
        validate_user_name(name)
    except InvalidInput:
        return
    assert 1 <= len(name) <= 64
    assert not name.startswith("-")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")
