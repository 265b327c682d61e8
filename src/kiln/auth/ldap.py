"""LDAP / Active Directory login: the :class:`~kiln.auth.directory.Directory` the
auth service asks when a password is not a Kiln one.

One login is: find the user's DN with ``user_filter`` (as the service account
``bind_dn``, or anonymously), bind as that DN with the password (the directory
checks it; Kiln never sees a hash), then find the user's groups with
``group_filter``. OpenLDAP has no ``memberOf`` without an overlay, so groups are
searched by member: ``(member={dn})`` with the DN escaped.

What keeps it safe:

- the name and the DN are escaped (RFC 4515) before they go into a filter, so
  ``*)(uid=*`` is a name that finds nobody rather than everybody;
- an empty password is refused before any connection: LDAP treats a simple bind
  with a DN and no password as an *unauthenticated* bind that succeeds (RFC 4513
  5.1.2), which would let anyone in as anyone;
- StartTLS (``start_tls``) and ``ldaps://`` check the server's certificate and
  name against ``ca_file`` (else the system's CAs); a server that refuses StartTLS
  fails the login (never a silent fall back to clear text);
- connect, receive and search are bounded by ``timeout_s``; referrals are not
  followed (they could send the password to another host);
- an unreachable directory, a refused StartTLS or a service account that cannot
  bind raise ``StoreUnavailable`` (503, "try later / fix the settings"), never
  a 401 that would look like a wrong password.

``ldap3`` is imported when an :class:`LdapDirectory` is made (the
``kiln-mlops[ldap]`` extra); without it the error says what to install.
"""

from __future__ import annotations

import contextlib
import math
import re
import ssl
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from kiln.auth.directory import DirectoryUser
from kiln.auth.settings import LdapSettings
from kiln.errors import DriverMissing, InvalidInput, StoreUnavailable

# the attribute a user filter matches the name on, e.g. uid in "(uid={name})"
_NAME_ATTRIBUTE = re.compile(r"\(([A-Za-z][A-Za-z0-9-]*)=\{name\}\)")
# what ldap3 says when wrapping the socket in TLS failed (ldaps:// or after StartTLS)
_TLS_FAILED = "wrap"
# bind results that mean "not this password" (49 invalidCredentials, also what Active
# Directory answers for a locked or disabled account; 48 inappropriateAuthentication)
_WRONG_PASSWORD = frozenset({48, 49})
# groups read per login: a bound on the answer, not a limit anyone should meet
_MAX_GROUPS = 1000


def _import_ldap3() -> ModuleType:
    try:
        with warnings.catch_warnings():
            # ldap3 2.9 reads pyasn1's renamed tagMap/typeMap at import: nothing to act on
            warnings.filterwarnings("ignore", "(tag|type)Map is deprecated", DeprecationWarning)
            import ldap3 as module
    except ImportError as exc:
        raise DriverMissing(
            "LDAP login needs the ldap3 package: pip install 'kiln-mlops[ldap]'"
        ) from exc
    loaded: ModuleType = module
    return loaded


class LdapDirectory:
    """Users and groups of an LDAP directory (OpenLDAP, Active Directory)."""

    def __init__(self, settings: LdapSettings) -> None:
        self._ldap3 = _import_ldap3()
        self._settings = settings
        self._escape = self._ldap3.utils.conv.escape_filter_chars
        parts = urlsplit(settings.url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise InvalidInput(
                f"LDAP URL {settings.url!r} must look like ldap://host:389 or ldaps://host:636"
            )
        if parts.scheme == "ldaps" and settings.start_tls:
            raise InvalidInput("LDAP: ldaps:// is already TLS; StartTLS is for ldap:// URLs")
        for template, field in (
            (settings.user_filter, "user_filter"),
            (settings.group_filter, "group_filter"),
        ):
            if not (template.startswith("(") and template.endswith(")")):
                raise InvalidInput(f"LDAP {field} {template!r} must be a filter in parentheses")
        self._where = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}".rstrip(":")
        self._host, self._port, self._ssl = parts.hostname, parts.port, parts.scheme == "ldaps"
        self._tls = _verified_tls(self._ldap3, _tls_context(settings.ca_file), parts.hostname)
        self._seconds = max(1, math.ceil(settings.timeout_s))
        match = _NAME_ATTRIBUTE.search(settings.user_filter)
        self._name_attribute = match.group(1) if match else None

    def authenticate(self, name: str, password: str) -> DirectoryUser | None:
        """The user when ``password`` binds as ``name``'s entry; None otherwise."""
        if not name or not password:
            return None  # before any connection: an empty password binds anonymously
        s = self._settings
        with self._open(s.bind_dn, s.bind_password, who="the service account") as search:
            found = self._find_user(search, name)
            if found is None:
                return None
            dn, canonical = found
            groups = self._groups(search, dn) if s.bind_dn else None
        with self._open(dn, password, who=None) as user:
            if not user.bound:
                return None
            if groups is None:  # no service account: the user reads its own groups
                groups = self._groups(user, dn)
        return DirectoryUser(name=canonical, dn=dn, groups=groups)

    # --- connections -----------------------------------------------------------

    def _open(self, dn: str | None, password: str | None, *, who: str | None) -> Any:
        """A connection, StartTLS'd when configured and bound as ``dn``.

        ``who`` names a bind that must succeed (the service account): its failure is
        a configuration problem. For the user's bind (``who`` None) a refused bind
        gives a connection that is not ``bound``.
        """
        ldap3 = self._ldap3
        # a Server per connection: ldap3 keeps the address it is trying on the Server,
        # which logins running at once in different threads must not share
        server = ldap3.Server(
            self._host,
            port=self._port,
            use_ssl=self._ssl,
            tls=self._tls,
            get_info=ldap3.NONE,
            connect_timeout=self._settings.timeout_s,
        )
        conn = ldap3.Connection(
            server,
            user=dn,
            password=password,
            read_only=True,
            auto_referrals=False,
            receive_timeout=self._seconds,  # ldap3 packs it as a C long
            raise_exceptions=False,
        )
        exceptions = ldap3.core.exceptions
        try:
            conn.open()
            if self._settings.start_tls:
                self._start_tls(conn)
            if dn is None:
                conn.bind()  # an anonymous search
            elif not conn.bind() and (who is not None or not _wrong_password(conn)):
                raise StoreUnavailable(
                    f"LDAP: {who or 'user'} {dn!r} could not bind to {self._where} "
                    f"({self._result(conn)})"
                )
        except StoreUnavailable:
            _discard(conn)
            raise
        except exceptions.LDAPException as exc:
            _discard(conn)
            what = "TLS handshake failed" if _TLS_FAILED in str(exc) else "cannot be reached"
            raise StoreUnavailable(
                f"LDAP server {self._where} {what}: {self._describe(exc)}"
            ) from exc
        return _Closing(conn)

    def _start_tls(self, conn: Any) -> None:
        refused = f"LDAP server {self._where} refused StartTLS"
        hint = "it has no TLS configured (or turn start_tls off)"
        try:
            started = conn.start_tls(read_server_info=False)
        except self._ldap3.core.exceptions.LDAPStartTLSError as exc:
            if _TLS_FAILED in str(exc):  # the server agreed; its certificate did not pass
                raise StoreUnavailable(
                    f"LDAP server {self._where}: TLS handshake failed ({self._describe(exc)}); "
                    "is ca_file (KILN_LDAP_CA_FILE) the CA that signed its certificate?"
                ) from exc
            raise StoreUnavailable(f"{refused} ({self._describe(exc)}): {hint}") from exc
        if not started:
            raise StoreUnavailable(f"{refused} ({self._result(conn)}): {hint}")

    @staticmethod
    def _result(conn: Any) -> str:
        result = conn.result or {}
        text = result.get("description") or "no answer"
        message = result.get("message")
        return f"{text}: {message}" if message else str(text)

    @staticmethod
    def _describe(exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        return text.replace("socket ssl wrapping error: ", "").replace("wrap socket error: ", "")

    # --- searches --------------------------------------------------------------

    def _search(self, conn: Any, base: str, query: str, attributes: list[str]) -> list[Any]:
        ldap3 = self._ldap3
        try:
            conn.search(
                base,
                query,
                search_scope=ldap3.SUBTREE,
                attributes=attributes,
                size_limit=_MAX_GROUPS,
                time_limit=self._seconds,
            )
        except ldap3.core.exceptions.LDAPException as exc:
            raise StoreUnavailable(
                f"LDAP search under {base!r} on {self._where} failed: {self._describe(exc)}"
            ) from exc
        description = (conn.result or {}).get("description")
        if description == "noSuchObject":
            raise StoreUnavailable(
                f"LDAP: {base!r} does not exist on {self._where} "
                "(check user_base_dn / group_base_dn)"
            )
        if description not in ("success", "sizeLimitExceeded"):
            raise StoreUnavailable(
                f"LDAP search under {base!r} on {self._where} failed ({self._result(conn)})"
            )
        return [e for e in conn.response or [] if e.get("type") == "searchResEntry"]

    def _find_user(self, conn: Any, name: str) -> tuple[str, str] | None:
        """(DN, the name as the directory spells it), or None unless exactly one entry
        matches (an ambiguous name logs nobody in)."""
        query = self._settings.user_filter.replace("{name}", self._escape(name))
        attributes = [self._name_attribute] if self._name_attribute else []
        entries = self._search(conn, self._settings.user_base_dn, query, attributes)
        if len(entries) != 1:
            return None
        entry = entries[0]
        canonical = name
        if self._name_attribute:
            values = entry.get("attributes", {}).get(self._name_attribute) or []
            values = values if isinstance(values, list) else [values]
            canonical = next((str(v) for v in values if str(v).lower() == name.lower()), name)
        return str(entry["dn"]), canonical

    def _groups(self, conn: Any, dn: str) -> frozenset[str]:
        """The DNs and cns (lower-cased) of the groups that list ``dn`` as a member."""
        base = self._settings.group_base_dn
        if not base:
            return frozenset()
        query = self._settings.group_filter.replace("{dn}", self._escape(dn))
        found: set[str] = set()
        for entry in self._search(conn, base, query, ["cn"]):
            found.add(str(entry["dn"]).lower())
            cns = entry.get("attributes", {}).get("cn") or []
            for cn in cns if isinstance(cns, list) else [cns]:
                found.add(str(cn).lower())
        return frozenset(found)


def _wrong_password(conn: Any) -> bool:
    return (conn.result or {}).get("result") in _WRONG_PASSWORD


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Python's default client context: certificate required, host name checked."""
    if ca_file and not Path(ca_file).is_file():
        raise InvalidInput(f"LDAP CA file {ca_file!r} does not exist")
    try:
        return ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:
        raise InvalidInput(f"LDAP CA file {ca_file!r} holds no PEM certificate: {exc}") from exc


def _verified_tls(ldap3: ModuleType, context: ssl.SSLContext, host: str) -> Any:
    """An ldap3 ``Tls`` whose handshake is Python's own, with the host name checked by
    ``ssl`` (ldap3 2.9 checks names with ``ssl.match_hostname``, deprecated since 3.7
    and gone in 3.12); used for both StartTLS and ldaps://."""

    base: Any = ldap3.Tls

    class VerifiedTls(base):  # type: ignore[misc]
        def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
            # on a failed handshake ssl closes the socket it took over
            connection.socket = context.wrap_socket(connection.socket, server_hostname=host)

    return VerifiedTls()


def _discard(conn: Any) -> None:
    """Close a connection that failed to open: ldap3 leaves the socket of a refused
    connect open."""
    with contextlib.suppress(Exception):
        conn.unbind()
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.close()


class _Closing:
    """``with`` for an ldap3 connection: unbind (close the socket) on the way out."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> Any:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):  # a socket already gone needs no closing
            self.conn.unbind()


__all__ = ["LdapDirectory"]
