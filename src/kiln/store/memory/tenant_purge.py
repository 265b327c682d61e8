"""Deleting every tracking, registry and logged-model record of one tenant from the
memory states (the memory half of ``AuthStore.delete_tenant(name, purge=True)``).

Each state is cleared under its own lock. The per-workspace containers of the
registry and logged-model states are emptied in place, not dropped: a store
already built for that workspace holds a reference to them and must see them
empty too. Artifacts are not touched.
"""

from __future__ import annotations

from kiln.store.memory.logged_models import LoggedModelMemoryState
from kiln.store.memory.registry import RegistryMemoryState
from kiln.store.memory.state import MemoryTrackingState


def purge_tenant_records(
    tenant: str,
    tracking: MemoryTrackingState | None,
    registry: RegistryMemoryState | None,
    logged_models: LoggedModelMemoryState | None,
) -> dict[str, int]:
    """Delete ``tenant``'s records from the states given; answer how many experiments,
    runs, registered models and logged models went (the SQL backend's keys)."""
    counts = {"experiments": 0, "runs": 0, "registered_models": 0, "logged_models": 0}
    if tracking is not None:
        with tracking.lock:
            gone = [k for k, e in tracking.experiments.items() if e.workspace == tenant]
            for key in gone:
                del tracking.experiments[key]
            runs = [k for k, r in tracking.runs.items() if r.info.workspace == tenant]
            for key in runs:
                del tracking.runs[key]
            dropped = set(gone)
            for dataset_key in [k for k in tracking.datasets if k[0] in dropped]:
                del tracking.datasets[dataset_key]
            tracking.defaults.pop(tenant, None)
            counts["experiments"], counts["runs"] = len(gone), len(runs)
    if registry is not None:
        with registry.lock:
            models = registry.models.get(tenant)
            if models is not None:
                counts["registered_models"] = len(models)
                models.clear()
    if logged_models is not None:
        with logged_models.lock:
            tables = logged_models.workspaces.get(tenant)
            if tables is not None:
                counts["logged_models"] = len(tables.models)
                tables.models.clear()
                tables.outputs.clear()
                tables.inputs.clear()
    return counts


__all__ = ["purge_tenant_records"]
