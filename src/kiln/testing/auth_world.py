"""An ``AuthService`` on the real memory stores, with a clock tests move and a
record of the store calls each request makes (``tests/unit/auth``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from kiln.auth.principal import Identity, Principal
from kiln.auth.service import AuthService
from kiln.auth.settings import AuthSettings
from kiln.entities.auth import Role
from kiln.store.memory.audit import MemoryAuditLog
from kiln.store.memory.auth import MemoryAuthStore
from kiln.store.memory.state import MemoryTrackingState
from kiln.store.protocols.auth import AuthStore

ADMIN_PASSWORD = "admin-password-1"
MINUTE = 60_000


class Clock:
    """Epoch milliseconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class CountingStore:
    """A real AuthStore, recording the name of every call made to it (to
    check what a request costs)."""

    def __init__(self, inner: AuthStore) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return recorded


@dataclass
class World:
    service: AuthService
    store: CountingStore
    audit: MemoryAuditLog
    clock: Clock
    tracking: MemoryTrackingState
    admin: Principal

    def user(self, name: str, tenant: str | None = None, role: Role | None = None) -> str:
        """Create a user (and a role in ``tenant``); answer its password."""
        _, password = self.service.create_user(self.admin, name)
        assert password is not None
        if tenant is not None and role is not None:
            self.service.grant(self.admin, name, tenant, role)
        return password

    def as_user(self, name: str, password: str, tenant: str | None = None) -> Principal:
        identity = self.service.identity_for_password(name, password)
        assert identity is not None
        return self.service.principal(identity, tenant)

    def actions(self) -> list[str]:
        return [event.action for event in reversed(self.audit.list_events().items)]


def make_world(**settings: Any) -> World:
    """A service on fresh memory stores with an admin (password ``ADMIN_PASSWORD``)
    and the tenants ``team-a`` and ``team-b``; ``settings`` override AuthSettings
    (the throttle defaults to 3 failures a minute)."""
    audit = MemoryAuditLog()
    tracking = MemoryTrackingState()
    store = CountingStore(MemoryAuthStore(audit=audit, tracking=tracking))
    clock = Clock()
    defaults: dict[str, Any] = {"max_failed_logins": 3, "failed_login_window_seconds": 60}
    service = AuthService(
        cast(AuthStore, store), audit, AuthSettings(**(defaults | settings)), clock=clock
    )
    assert service.bootstrap_admin(ADMIN_PASSWORD)
    identity = service.identity_for_password("admin", ADMIN_PASSWORD)
    assert identity == Identity("admin", is_admin=True, via="password", member_roles=())
    admin = service.principal(identity, None)
    service.create_tenant(admin, "team-a")
    service.create_tenant(admin, "team-b")
    return World(service, store, audit, clock, tracking, admin)


__all__ = ["ADMIN_PASSWORD", "MINUTE", "Clock", "CountingStore", "World", "make_world"]
