"""API tokens and login sessions of the SQL ``AuthStore``, and what its parts share
(the engine, the clock, write transactions that write their audit line).

``token_grant`` is the hot path of every token-authenticated request: ONE SELECT,
the token by its unique hash index joined to its user and (outer) to the user's
membership in the token's tenant. ``password_grant`` is that of a Basic-auth
request: ONE SELECT, the user by name outer-joined to its memberships.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import IntegrityError

from kiln.entities.auth import (
    DEFAULT_TENANT,
    ApiToken,
    PasswordGrant,
    Role,
    Session,
    TokenGrant,
    User,
)
from kiln.errors import AlreadyExists, Conflict, KilnError
from kiln.store.clock import Clock
from kiln.store.rules.audit import store_event
from kiln.store.rules.auth import (
    check_session,
    check_token,
    token_fields,
)
from kiln.store.sql.audit import append_event
from kiln.store.sql.auth_rows import (
    insert_credential,
    narrowed,
    require_session,
    session_of,
    session_row,
    tenant_row,
    token_of,
    token_row,
    token_row_of,
    user_row,
)
from kiln.store.sql.auth_schema import api_tokens, memberships, sessions, users
from kiln.store.sql.engine import (
    WouldBlock,
    must_not_wait,
    read_transaction,
    write_transaction,
)
from kiln.store.sql.loop_reader import LoopReader, loop_reader

# token_grant's one statement: the token, its user, the user's role in its tenant.
_GRANT = (
    select(
        api_tokens,
        users.c.is_admin,
        users.c.disabled,
        users.c.created_at.label("user_created_at"),
        users.c.source,
        memberships.c.role.label("member_role"),
    )
    .select_from(
        api_tokens.join(users, users.c.name == api_tokens.c.user_name).outerjoin(
            memberships,
            and_(
                memberships.c.user_name == api_tokens.c.user_name,
                memberships.c.tenant == api_tokens.c.tenant,
            ),
        )
    )
    .where(api_tokens.c.token_hash == bindparam("hash"))
)


_GRANT_COLUMNS = tuple(_GRANT.selected_columns.keys())
# password_grant's one statement: the user, its password hash, a row per membership.
_PASSWORD = (
    select(
        users.c.name,
        users.c.is_admin,
        users.c.disabled,
        users.c.created_at,
        users.c.source,
        users.c.password_hash,
        memberships.c.tenant,
        memberships.c.role,
    )
    .select_from(users.outerjoin(memberships, memberships.c.user_name == users.c.name))
    .where(users.c.name == bindparam("name"))
)
# session_by_hash's one statement (every request of a browser session).
_SESSION = select(sessions).where(sessions.c.session_hash == bindparam("hash"))
_SESSION_COLUMNS = tuple(_SESSION.selected_columns.keys())
_COMPILED: dict[tuple[str, str], tuple[str, bool]] = {}


def _compiled(name: str, statement: Any, dialect: Dialect) -> tuple[str, bool]:
    """``statement`` compiled once per dialect for the driver, and whether its
    parameters are positional."""
    done = _COMPILED.get((name, dialect.name))
    if done is None:
        compiled = statement.compile(dialect=dialect)
        done = _COMPILED[(name, dialect.name)] = (str(compiled), bool(compiled.positional))
    return done


# psycopg.pq.TransactionStatus.IDLE (psycopg is imported only where PostgreSQL is used)
_PG_IDLE = 0


def _read_one(engine: Engine, sql: str, parameters: Any) -> tuple[Any, ...] | None:
    """The first row of ``_read_rows``."""
    rows = _read_rows(engine, sql, parameters)
    return rows[0] if rows else None


def _read_rows(engine: Engine, sql: str, parameters: Any) -> list[tuple[Any, ...]]:
    """The rows of one read on the driver's cursor, outside a transaction.

    One statement reads a consistent snapshot by itself; SQLAlchemy's BEGIN/COMMIT
    and result rows cost more than the indexed lookup. Measured per ``token_grant``
    (a busy 2-core machine): SQLite ~60 us instead of ~130 us; PostgreSQL, in
    autocommit (no BEGIN and ROLLBACK round trips), ~450 us instead of ~830 us.
    """
    with engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        autocommit = engine.dialect.name == "postgresql" and not driver.autocommit
        if autocommit:
            if driver.info.transaction_status != _PG_IDLE:  # in a transaction: stay in it
                autocommit = False
            else:
                driver.autocommit = True
        try:
            cursor = driver.cursor()
            try:
                cursor.execute(sql, parameters)
                found: list[tuple[Any, ...]] = cursor.fetchall()
            finally:
                cursor.close()
        finally:
            if autocommit:
                driver.autocommit = False
    return found


class SqlAuthBase:
    """The state of a ``SqlAuthStore`` and the write transaction its parts use."""

    _engine: Engine
    _clock: Clock
    _loop: LoopReader | None = None  # the event loop's read connection (SQLite files)
    _loop_checked = False

    @contextmanager
    def _write(self, taken: KilnError | None = None) -> Iterator[Connection]:
        """A write transaction. Callers check before they write, so a constraint
        fails only when a concurrent writer got there between the check and the
        write (PostgreSQL): a unique key taken first becomes ``taken``, anything
        else a ``Conflict`` to retry."""
        try:
            with write_transaction(self._engine) as conn:
                yield conn
        except IntegrityError:
            if taken is None:
                raise Conflict("changed by another request at the same time; retry") from None
            raise taken from None

    def _lookup(self, name: str, statement: Any, value: str) -> tuple[Any, ...] | None:
        """The row of a hot-path statement whose one parameter is ``hash`` (a token's
        or a session's), read on the driver's cursor (``_read_one``); inside
        ``no_wait()`` (the event loop) on SQLite's own read connection, which
        never waits (``kiln.store.sql.loop_reader``), never a pooled one."""
        sql, positional = _compiled(name, statement, self._engine.dialect)
        parameters = (value,) if positional else {"hash": value}
        if must_not_wait():
            return self._loop_reader().read_one(sql, parameters)
        return _read_one(self._engine, sql, parameters)

    def _loop_reader(self) -> LoopReader:
        if not self._loop_checked:
            self._loop = loop_reader(self._engine)
            self._loop_checked = True
        if self._loop is None:  # PostgreSQL, in-memory SQLite: the thread path
            raise WouldBlock("a credential lookup may wait for a pooled connection")
        return self._loop

    def _close_loop_reader(self) -> None:
        if self._loop is not None:
            self._loop.close()

    def _change(self, statement: Any, missing: Callable[[Connection], object]) -> None:
        """Run an UPDATE or DELETE of one row by its id, unaudited; when it matched
        no row, ``missing`` raises the ``NotFound`` of what it named."""
        with write_transaction(self._engine) as conn:
            if conn.execute(statement).rowcount == 0:
                missing(conn)

    def _record(
        self,
        conn: Connection,
        action: str,
        resource: str,
        tenant: str = DEFAULT_TENANT,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Append the audit line of a change, last in the change's transaction."""
        event = store_event(tenant, action, resource, before, after, timestamp=self._clock())
        append_event(conn, event, clock=self._clock)


class SqlTokens(SqlAuthBase):
    """API tokens and login sessions."""

    # API tokens --------------------------------------------------------------------
    def create_token(self, token: ApiToken, token_hash: str) -> ApiToken:
        check_token(token, token_hash)
        taken = AlreadyExists(f"token {token.token_id!r} already exists")
        with self._write(taken) as conn:
            insert_credential(conn, api_tokens, "token", token_row(token, token_hash), taken)
            self._record(
                conn,
                "token.create",
                f"token:{token.token_id}",
                token.tenant,
                after=token_fields(token),
            )
            return token

    def token_grant(self, token_hash: str) -> TokenGrant | None:
        found = self._lookup("grant", _GRANT, token_hash)
        if found is None:
            return None
        row = SimpleNamespace(**dict(zip(_GRANT_COLUMNS, found, strict=True)))
        user = User(
            row.user_name, bool(row.is_admin), bool(row.disabled), row.user_created_at, row.source
        )
        role = None if row.member_role is None else Role.parse(row.member_role)
        return TokenGrant(token_of(row), user, role)

    def password_grant(self, name: str) -> PasswordGrant | None:
        if must_not_wait():  # a password is never checked on the event loop
            raise WouldBlock("a password lookup may wait for a pooled connection")
        sql, positional = _compiled("password", _PASSWORD, self._engine.dialect)
        rows = _read_rows(self._engine, sql, (name,) if positional else {"name": name})
        if not rows:
            return None
        first = rows[0]
        user = User(first[0], bool(first[1]), bool(first[2]), first[3], first[4])
        roles = sorted((row[6], Role.parse(row[7])) for row in rows if row[6] is not None)
        return PasswordGrant(user, None if first[5] is None else str(first[5]), tuple(roles))

    def get_token(self, token_id: str) -> ApiToken:
        with read_transaction(self._engine) as conn:
            return token_of(token_row_of(conn, token_id))

    def list_tokens(
        self, *, user: str | None = None, tenant: str | None = None
    ) -> Sequence[ApiToken]:
        with read_transaction(self._engine) as conn:
            query = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.token_id)
            query = narrowed(conn, query, api_tokens, user, tenant)
            return [token_of(row) for row in conn.execute(query)]

    def revoke_token(self, token_id: str, when: int) -> ApiToken:
        with self._write() as conn:
            token = token_of(token_row_of(conn, token_id))
            if token.revoked_at is not None:
                return token
            conn.execute(
                update(api_tokens).where(api_tokens.c.token_id == token_id).values(revoked_at=when)
            )
            self._record(
                conn,
                "token.revoke",
                f"token:{token_id}",
                token.tenant,
                before={"revoked_at": None},
                after={"revoked_at": when},
            )
            return token_of(token_row_of(conn, token_id))

    def touch_token(self, token_id: str, when: int) -> None:
        where = api_tokens.c.token_id == token_id
        self._change(
            update(api_tokens).where(where).values(last_used_at=when),
            lambda conn: token_row_of(conn, token_id),
        )

    # login sessions ----------------------------------------------------------------
    def create_session(self, session: Session, session_hash: str) -> Session:
        check_session(session, session_hash)
        taken = AlreadyExists(f"session {session.session_id!r} already exists")
        with self._write(taken) as conn:
            row = session_row(session, session_hash)
            insert_credential(conn, sessions, "session", row, taken)
            return session

    def session_by_hash(self, session_hash: str) -> Session | None:
        found = self._lookup("session", _SESSION, session_hash)
        if found is None:
            return None
        return session_of(SimpleNamespace(**dict(zip(_SESSION_COLUMNS, found, strict=True))))

    def touch_session(self, session_id: str, when: int) -> None:
        where = sessions.c.session_id == session_id
        self._change(
            update(sessions).where(where).values(last_seen_at=when),
            lambda conn: require_session(conn, session_id),
        )

    def set_session_tenant(self, session_id: str, tenant: str) -> Session:
        with write_transaction(self._engine) as conn:
            require_session(conn, session_id)
            tenant_row(conn, tenant)  # raises NotFound
            where = sessions.c.session_id == session_id
            conn.execute(update(sessions).where(where).values(tenant=tenant))
            return session_of(conn.execute(select(sessions).where(where)).one())

    def delete_session(self, session_id: str) -> None:
        self._change(
            delete(sessions).where(sessions.c.session_id == session_id),
            lambda conn: require_session(conn, session_id),
        )

    def delete_user_sessions(self, user: str) -> int:
        with write_transaction(self._engine) as conn:
            done = conn.execute(delete(sessions).where(sessions.c.user_name == user))
            if done.rowcount == 0:
                user_row(conn, user)  # raises NotFound
            return int(done.rowcount)

    def delete_expired_sessions(self, now: int, idle_ms: int) -> int:
        with write_transaction(self._engine) as conn:
            done = conn.execute(
                delete(sessions).where(
                    or_(sessions.c.expires_at <= now, sessions.c.last_seen_at <= now - idle_ms)
                )
            )
            return int(done.rowcount)


__all__ = ["SqlAuthBase", "SqlTokens"]
