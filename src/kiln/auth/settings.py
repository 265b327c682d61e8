"""The auth settings that are not secrets: timeouts, limits, the LDAP directory.

Read at the edge (``kiln.config``: environment variables ``KILN_*`` or the
``[auth]`` / ``[auth.ldap]`` tables of ``kiln server --config kiln.toml``) and
passed down; secrets (the LDAP bind password, ``KILN_ADMIN_PASSWORD``) only come
from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LdapSettings:
    """Where and how to find a user in the directory.

    ``user_filter`` and ``group_filter`` are templates: ``{name}`` is the login
    name and ``{dn}`` the user's DN, both escaped (RFC 4515) before they are put in.
    """

    url: str  # ldap://host:389 or ldaps://host:636
    user_base_dn: str
    user_filter: str = "(uid={name})"
    group_base_dn: str | None = None
    group_filter: str = "(|(member={dn})(uniqueMember={dn}))"
    start_tls: bool = False
    # PEM file of the CA(s) that sign the directory's certificate (StartTLS, ldaps://);
    # None: the system's CAs
    ca_file: str | None = None
    bind_dn: str | None = None  # a service account to search with; None: anonymous search
    # from KILN_LDAP_BIND_PASSWORD only; never in a repr (settings may be logged)
    bind_password: str | None = field(default=None, repr=False)
    timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class AuthSettings:
    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    # a Basic-auth password, verified once, is trusted this long (argon2 costs ~50 ms)
    password_cache_seconds: int = 60
    # failed logins of one user before it is slowed down, and the window they count in
    max_failed_logins: int = 5
    failed_login_window_seconds: int = 300
    # argon2 verifications running at once (each takes a core for ~50 ms)
    max_concurrent_hashes: int = 4
    ldap: LdapSettings | None = None


__all__ = ["AuthSettings", "LdapSettings"]
