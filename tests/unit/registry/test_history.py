"""A model's history from the audit log (kiln.registry.history), over the real logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.errors import InvalidInput
from kiln.registry.history import describe, is_model_resource, model_history
from kiln.store.open import close_store, open_audit_log
from kiln.store.protocols.audit import AuditLog
from kiln.store.rules.audit import (
    alias_event,
    model_event,
    version_created,
    version_deleted,
    version_staged,
)
from kiln.testing.contracts.audit import event


@pytest.fixture(params=["memory", "sqlite"])
def audit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    uri = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'a.db'}"
    log = open_audit_log(uri)
    yield log
    close_store(log)


def test_only_this_models_and_its_versions_lines_newest_first_in_its_tenant(
    audit: AuditLog,
) -> None:
    mine = [
        audit.append(alias_event("t", "churn", "staging", None, 1)),
        audit.append(version_staged("t", "churn", 2, "None", "Staging", ())),
    ]
    audit.append(alias_event("t", "churner", "staging", None, 1))  # a name it prefixes
    audit.append(alias_event("other", "churn", "staging", None, 1))  # another tenant
    audit.append(event("run.delete", "run:churn"))
    mine.append(audit.append(model_event("t", "model.delete", "churn", {"name": "churn"}, None)))
    page = model_history(audit, "t", "churn")
    assert page.items == mine[::-1]
    assert page.next_page_token is None


def test_pages_lead_on_past_other_models_lines(audit: AuditLog) -> None:
    for n in range(3):
        audit.append(alias_event("t", "a", "x", None, n + 1))
    for _ in range(5):
        audit.append(alias_event("t", "ab", "x", None, 1))
    first = model_history(audit, "t", "a", max_results=2)
    assert [e.after for e in first.items] == [{"alias": "x", "version": v} for v in (3, 2)]
    assert first.next_page_token
    rest = model_history(audit, "t", "a", max_results=2, page_token=first.next_page_token)
    assert [e.after for e in rest.items] == [{"alias": "x", "version": 1}]
    with pytest.raises(InvalidInput, match="max_results"):
        model_history(audit, "t", "a", max_results=0)


def test_is_model_resource() -> None:
    assert is_model_resource("model:a", "a")
    assert is_model_resource("model:a/3", "a")
    assert not is_model_resource("model:ab", "a")
    assert not is_model_resource("run:a", "a")


def test_describe_says_what_each_registry_line_did() -> None:
    set_ = describe(alias_event("t", "m", "champion", None, 3))
    assert (set_.what, set_.subject, set_.before, set_.after) == (
        "alias set",
        "@champion",
        "",
        "version 3",
    )
    moved = describe(alias_event("t", "m", "champion", 3, 4))
    assert (moved.what, moved.before, moved.after) == ("alias moved", "version 3", "version 4")
    gone = describe(alias_event("t", "m", "champion", 4, None))
    assert (gone.what, gone.before, gone.after) == ("alias removed", "version 4", "")
    staged = describe(version_staged("t", "m", 2, "Staging", "Production", [1]))
    assert (staged.what, staged.subject, staged.before, staged.after) == (
        "stage changed",
        "version 2",
        "Staging",
        "Production",
    )
    created = describe(version_created("t", "m", 3, "runs:/abc/model", "abc"))
    assert (created.what, created.subject, created.before, created.after) == (
        "version created",
        "version 3",
        "",
        "from run abc",
    )
    bare = describe(version_created("t", "m", 4, "s3://b/m", None))
    assert bare.after == "s3://b/m"
    deleted = describe(version_deleted("t", "m", 2, "Archived", {"old"}))
    assert (deleted.what, deleted.before) == ("version deleted", "Archived, @old")
    renamed = describe(model_event("t", "model.rename", "m", {"name": "m"}, {"name": "n"}))
    assert (renamed.what, renamed.before, renamed.after) == ("renamed", "m", "n")
    other = describe(event("model.tag.set", "model:m", after={"k": "v"}))
    assert (other.what, other.subject, other.after) == ("model.tag.set", "model", "k=v")
