"""The ``delete_tenant(name, purge=True)`` part of the ``AuthStore`` contract
(MLflow's ``CASCADE`` workspace deletion): mixed into ``AuthStoreContract``, with
its ``auth_store``, ``audit_log`` and ``hold_data`` fixtures.

What it proves through the stores' own reads: the purged tenant's experiments,
runs and models are gone (a tenant created later with that name holds nothing,
and may reuse their names), another tenant's are untouched, and the audit line
says how many of each went. The SQL backend's table-by-table check lives beside
its tests (``tests/unit/store/test_tenant_purge.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from kiln.store.audit_context import acting_as
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore

_KINDS = ("run", "experiment", "registered_model", "logged_model")


class TenantPurgeContract:
    """Needs the fixtures of ``AuthStoreContract`` (``hold_data``: see ``HELD_KINDS``)."""

    def test_purge_deletes_the_tenants_records_and_no_others(
        self,
        auth_store: AuthStore,
        audit_log: AuditLog,
        hold_data: Callable[[str, str], None],
    ) -> None:
        for tenant in ("gone", "kept"):
            auth_store.create_tenant(tenant)
            for kind in _KINDS:
                hold_data(tenant, kind)
        with acting_as("root"):
            auth_store.delete_tenant("gone", purge=True)
        line = audit_log.list_events(max_results=1).items[0]
        assert (line.action, line.resource, line.tenant, line.actor) == (
            "tenant.delete",
            "tenant:gone",
            "gone",
            "root",
        )
        assert line.before is not None
        # Default (made on the first open) and "kept"; the run; the two models
        assert line.before["purged"] == {
            "experiments": 2,
            "runs": 1,
            "registered_models": 1,
            "logged_models": 1,
        }
        assert audit_log.verify() is None
        assert auth_store.tenant_holds_data("kept")
        auth_store.create_tenant("gone")
        assert not auth_store.tenant_holds_data("gone")
        for kind in ("open", *_KINDS):  # the names are free again: nothing is left
            hold_data("gone", kind)
        assert auth_store.tenant_holds_data("gone")

    def test_without_purge_the_records_stay(
        self, auth_store: AuthStore, audit_log: AuditLog, hold_data: Callable[[str, str], None]
    ) -> None:
        auth_store.create_tenant("left")
        hold_data("left", "experiment")
        auth_store.delete_tenant("left")
        line = audit_log.list_events(max_results=1).items[0]
        assert line.before is not None
        assert "purged" not in line.before
        auth_store.create_tenant("left")
        assert auth_store.tenant_holds_data("left")  # why admin_ops always purges


__all__ = ["TenantPurgeContract"]
