"""The administration half of ``AuthService``: tenants, users, memberships, LDAP
group bindings and quotas, each checked against the acting ``Principal``.

Global admins may do all of it; a project-admin may grant and revoke roles in
the tenant it acts in (never above its own role); everyone may read their own
memberships. The stores write the audit line of each change, in the same
transaction (``kiln.store.audit_context`` names the actor: every write here runs
``acting_as`` the caller).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kiln.auth import passwords
from kiln.auth.names import validate_tenant_name, validate_user_name
from kiln.auth.principal import Principal
from kiln.auth.pwcache import PasswordCache
from kiln.auth.roles import Action
from kiln.entities.auth import (
    DEFAULT_TENANT,
    GroupBinding,
    Membership,
    Quota,
    Role,
    Tenant,
    User,
)
from kiln.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from kiln.store.audit_context import acting_as
from kiln.store.protocols.auth import AuthStore

MAX_GROUP_CHARS = 512
MAX_DESCRIPTION_CHARS = 1000


def _group_name(group: str) -> str:
    """A binding's group, lower-cased as ``DirectoryUser.groups`` are (a DN or a cn)."""
    group = group.strip().lower()
    if not 1 <= len(group) <= MAX_GROUP_CHARS or not group.isprintable():
        raise InvalidInput(f"a group is 1 to {MAX_GROUP_CHARS} printable characters")
    return group


class AdminOps:
    """Tenants, users and roles (mixed into ``AuthService``, which sets these)."""

    store: AuthStore
    gate: passwords.HashGate
    cache: PasswordCache
    # called with a tenant's name once it is deleted (a server drops its stores)
    tenant_listeners: list[Callable[[str], None]]

    # --- who may --------------------------------------------------------------------------

    def require_admin(self, actor: Principal, what: str) -> None:
        """Raises: PermissionDenied unless ``actor`` is a global admin."""
        if not actor.is_admin:
            raise PermissionDenied(f"only an administrator may {what}")

    def _require_manager(self, actor: Principal, tenant: str, role: Role | None = None) -> None:
        """An admin, or a project-admin acting in ``tenant`` (granting at most its role)."""
        if actor.is_admin:
            return
        if actor.tenant != tenant or not actor.allows(Action.MANAGE):
            raise PermissionDenied(f"only a project-admin of {tenant!r} may manage its members")
        if role is not None and (actor.role is None or role > actor.role):
            raise PermissionDenied(f"you cannot grant a role above your own ({actor.role})")

    # --- tenants -------------------------------------------------------------------------

    def create_tenant(
        self,
        actor: Principal,
        name: str,
        description: str = "",
        default_artifact_root: str | None = None,
    ) -> Tenant:
        self.require_admin(actor, "create workspaces")
        validate_tenant_name(name)
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise InvalidInput(f"a description is at most {MAX_DESCRIPTION_CHARS} characters")
        with acting_as(actor.user):
            return self.store.create_tenant(name, description, default_artifact_root)

    def get_tenant(self, actor: Principal, name: str) -> Tenant:
        """A tenant the actor may see (an admin: any; others: one they hold a role in).

        Raises: NotFound for a tenant missing or not the actor's.
        """
        if not actor.is_admin and self.store.role_of(actor.user, name) is None:
            raise NotFound(f"workspace {name!r} not found")
        try:
            return self.store.get_tenant(name)
        except NotFound:
            raise NotFound(f"workspace {name!r} not found") from None

    def list_tenants(self, actor: Principal) -> Sequence[Tenant]:
        """Every tenant for an admin; the tenants the actor holds a role in otherwise."""
        tenants = self.store.list_tenants()
        if actor.is_admin:
            return tenants
        mine = {m.tenant for m in self.store.list_memberships(user=actor.user)}
        return [tenant for tenant in tenants if tenant.name in mine]

    def update_tenant(
        self,
        actor: Principal,
        name: str,
        description: str | None = None,
        default_artifact_root: str | None = None,
    ) -> Tenant:
        self.require_admin(actor, "change workspaces")
        if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
            raise InvalidInput(f"a description is at most {MAX_DESCRIPTION_CHARS} characters")
        with acting_as(actor.user):
            return self.store.update_tenant(name, description, default_artifact_root)

    def delete_tenant(self, actor: Principal, name: str, force: bool = False) -> None:
        """Delete a tenant's records (memberships, tokens, sessions, bindings, quota)
        and every tracking and registry record of it, in one transaction, so a tenant
        later given the name starts empty: without ``force`` only an empty tenant
        goes (its ``Default`` experiment with it); with ``force`` (MLflow's
        ``CASCADE``) its experiments, runs and models go too. Its artifacts stay
        under the artifact root's ``workspaces/<name>/`` for an operator to remove.

        Raises: Conflict while it holds experiments or models, unless ``force``;
        InvalidInput for ``default``.
        """
        self.require_admin(actor, "delete workspaces")
        if name == DEFAULT_TENANT:
            raise InvalidInput("the 'default' workspace cannot be deleted")
        self.store.get_tenant(name)
        if not force and self.store.tenant_holds_data(name):
            raise Conflict(
                f"workspace {name!r} still holds experiments or models; delete them first, "
                "or force the deletion (which deletes them with it)"
            )
        with acting_as(actor.user):
            self.store.delete_tenant(name, purge=True)
        for listener in self.tenant_listeners:
            listener(name)

    # --- users ---------------------------------------------------------------------------

    def create_user(
        self, actor: Principal, name: str, is_admin: bool = False, password: str | None = None
    ) -> tuple[User, str | None]:
        """A new local user: ``(user, one_time_password)``, the password generated
        (and answered, once) when none is given."""
        self.require_admin(actor, "create users")
        validate_user_name(name)
        generated = None
        if password is None:
            password = generated = passwords.generate_password()
        passwords.check_password_rules(password)
        stored = passwords.hash_password(password, gate=self.gate)
        with acting_as(actor.user):
            return self.store.create_user(name, stored, is_admin=is_admin), generated

    def list_users(self, actor: Principal) -> Sequence[User]:
        self.require_admin(actor, "list users")
        return self.store.list_users()

    def set_password(self, actor: Principal, name: str, password: str | None = None) -> str | None:
        """Set a local user's password (generated and answered when none is given);
        the old one stops working at once, Basic-auth cache included, and so do the
        user's login sessions (the caller's own too, when it sets its own password:
        log in again). Its API tokens stay: each is a credential of its own, revoked
        on its own (``revoke_token``).

        The sessions go in a second store call right after the password's
        transaction (``AuthStore.delete_user_sessions``); were it to fail, the error
        is answered and running the command again finishes the job."""
        self.require_admin(actor, "set passwords")
        user = self.store.get_user(name)
        if user.source != "local":
            raise InvalidInput(f"user {name!r} logs in through the directory; set it there")
        generated = None
        if password is None:
            password = generated = passwords.generate_password()
        passwords.check_password_rules(password)
        stored = passwords.hash_password(password, gate=self.gate)
        with acting_as(actor.user):
            self.store.set_password_hash(name, stored)
        self.cache.forget_user(name)
        self.store.delete_user_sessions(name)
        return generated

    def disable_user(self, actor: Principal, name: str) -> User:
        """Refuse the user's every credential from the next request on; its login
        sessions are deleted (enabling it again brings none back: it logs in anew).
        Its tokens are kept, refused while it is disabled."""
        self.require_admin(actor, "disable users")
        if name == actor.user:
            raise Conflict("you cannot disable yourself")
        with acting_as(actor.user):
            user = self.store.set_user_flags(name, disabled=True)
        self.cache.forget_user(name)
        self.store.delete_user_sessions(name)
        return user

    def enable_user(self, actor: Principal, name: str) -> User:
        self.require_admin(actor, "enable users")
        with acting_as(actor.user):
            return self.store.set_user_flags(name, disabled=False)

    def set_admin(self, actor: Principal, name: str, is_admin: bool) -> User:
        """Make a user a global admin, or no longer one (not oneself)."""
        self.require_admin(actor, "change administrators")
        if name == actor.user and not is_admin:
            raise Conflict("you cannot take away your own admin rights")
        with acting_as(actor.user):
            return self.store.set_user_flags(name, is_admin=is_admin)

    # --- memberships ---------------------------------------------------------------------

    def grant(self, actor: Principal, user: str, tenant: str, role: Role) -> Membership:
        """Give ``user`` ``role`` in ``tenant`` (or change it)."""
        self._require_manager(actor, tenant, role)
        current = self.store.role_of(user, tenant)
        if current is not None:
            self._require_manager(actor, tenant, current)  # no demoting one's betters
        with acting_as(actor.user):
            return self.store.set_membership(user, tenant, role)

    def revoke(self, actor: Principal, user: str, tenant: str) -> None:
        self._require_manager(actor, tenant)
        current = self.store.role_of(user, tenant)
        if current is not None:
            self._require_manager(actor, tenant, current)
        with acting_as(actor.user):
            self.store.delete_membership(user, tenant)

    def list_memberships(
        self, actor: Principal, *, user: str | None = None, tenant: str | None = None
    ) -> Sequence[Membership]:
        """An admin: any; a project-admin: its tenant's; anyone: their own."""
        if not actor.is_admin:
            if tenant is not None:
                self._require_manager(actor, tenant)
            elif user != actor.user:
                raise PermissionDenied("only an administrator may list everyone's memberships")
        return self.store.list_memberships(user=user, tenant=tenant)

    # --- LDAP group bindings and quotas ----------------------------------------------------

    def bind_group(self, actor: Principal, group: str, tenant: str, role: Role) -> GroupBinding:
        """Directory users in ``group`` get ``role`` in ``tenant`` at their next login."""
        self.require_admin(actor, "bind directory groups")
        self.store.get_tenant(tenant)
        with acting_as(actor.user):
            return self.store.set_group_binding(_group_name(group), tenant, role)

    def unbind_group(self, actor: Principal, group: str, tenant: str) -> None:
        self.require_admin(actor, "unbind directory groups")
        with acting_as(actor.user):
            self.store.delete_group_binding(_group_name(group), tenant)

    def list_group_bindings(
        self, actor: Principal, tenant: str | None = None
    ) -> Sequence[GroupBinding]:
        self.require_admin(actor, "list directory group bindings")
        return self.store.list_group_bindings(tenant)

    def set_quota(self, actor: Principal, quota: Quota) -> Quota:
        self.require_admin(actor, "set quotas")
        for field, value in (
            ("cpus", quota.cpus),
            ("gpus", quota.gpus),
            ("memory_mb", quota.memory_mb),
        ):
            if value is not None and not 0 <= value < float("inf"):
                raise InvalidInput(f"quota {field} must be >= 0 or unset, got {value}")
        with acting_as(actor.user):
            return self.store.set_quota(quota)

    def get_quota(self, actor: Principal, tenant: str) -> Quota:
        """An admin, or anyone with a role in ``tenant``."""
        if not actor.is_admin and (actor.tenant != tenant or not actor.allows(Action.READ)):
            raise NotFound(f"workspace {tenant!r} not found")
        return self.store.get_quota(tenant)


__all__ = ["AdminOps"]
