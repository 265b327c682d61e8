"""Auth on, SQLite: a token's small write is answered on the event loop, no thread hop.

The token is read on the auth store's own read connection inside ``no_wait()``
(``kiln.store.sql.loop_reader``) and the role on every request, so a revocation
or a demotion is refused on the very next request. Everything that might wait
(a password, that connection in use, PostgreSQL) takes the thread as before.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from kiln.auth.tokens import token_hash
from kiln.entities.auth import Role
from kiln.server import fastlane
from kiln.server.fastlane import _Workers
from kiln.server.gate import BAD_CREDENTIALS
from kiln.store.sql.auth import SqlAuthStore
from kiln.store.sql.engine import WouldBlock, no_wait
from kiln.store.sql.loop_reader import LoopReader, loop_reader
from kiln.testing.auth_server import API, PASSWORD, World, auth_world
from kiln.testing.tenancy import basic_auth


class _Counting(_Workers):
    """The lane's real executor, counting the hops off the event loop."""

    def __init__(self) -> None:
        super().__init__(limit=4)
        self.hops = 0

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        self.hops += 1
        return super().run(fn, *args)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with auth_world(tmp_path_factory.mktemp("inline")) as built:
        yield built


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Counting]:
    counting = _Counting()
    monkeypatch.setattr(fastlane, "_workers", counting)
    yield counting
    counting.pool.shutdown()


def _run_id(world: World, headers: dict[str, str]) -> str:
    experiment = world.create_experiment(f"inline-{uuid.uuid4().hex}", headers)
    answer = world.client.post(
        f"{API}/runs/create", json={"experiment_id": experiment}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["run"]["info"]["run_id"])


def _log(world: World, run_id: str, step: int, headers: dict[str, str]) -> Any:
    point = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": step}
    return world.client.post(f"{API}/runs/log-metric", json=point, headers=headers)


def _token(world: World, user: str) -> tuple[str, dict[str, str]]:
    """A fresh token of ``user`` in team-a: (its id, its Bearer header)."""
    identity = world.service.identity_for_password(user, PASSWORD)
    assert identity is not None
    token, secret = world.service.create_token(
        world.service.principal(identity, "team-a"), name="inline"
    )
    return token.token_id, {"Authorization": f"Bearer {secret}"}


def test_a_tokens_log_metric_is_answered_on_the_event_loop(
    world: World, workers: _Counting
) -> None:
    headers = world.bearer("meg")
    run_id = _run_id(world, headers)  # the token's first use (a touch) took a thread
    workers.hops = 0
    for step in range(3):
        answer = _log(world, run_id, step, headers)
        assert answer.status_code == 200, answer.text
    assert workers.hops == 0
    history = world.client.get(
        f"{API}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "loss"},
        headers=headers,
    ).json()
    assert [m["step"] for m in history["metrics"]] == [0, 1, 2]
    # a password is checked on a thread (argon2 never runs on the event loop)
    workers.hops = 0
    answer = _log(world, run_id, 3, basic_auth("meg", PASSWORD))
    assert answer.status_code == 200, answer.text
    assert workers.hops == 1


def test_a_revoked_token_is_refused_on_the_very_next_request(
    world: World, workers: _Counting
) -> None:
    token_id, headers = _token(world, "meg")
    run_id = _run_id(world, headers)
    assert _log(world, run_id, 0, headers).status_code == 200
    world.service.revoke_token(world.admin, token_id)
    answer = _log(world, run_id, 1, headers)
    assert answer.status_code == 401, answer.text
    assert BAD_CREDENTIALS in answer.json()["message"]


def test_a_demotion_takes_effect_on_the_very_next_request(world: World, workers: _Counting) -> None:
    world.service.create_user(world.admin, "dee", password=PASSWORD)
    world.service.grant(world.admin, "dee", "team-a", Role.MEMBER)
    _, headers = _token(world, "dee")
    run_id = _run_id(world, headers)
    workers.hops = 0
    assert _log(world, run_id, 0, headers).status_code == 200
    world.service.grant(world.admin, "dee", "team-a", Role.VIEWER)
    answer = _log(world, run_id, 1, headers)
    assert answer.status_code == 403, answer.text
    world.service.grant(world.admin, "dee", "team-a", Role.MEMBER)
    assert _log(world, run_id, 2, headers).status_code == 200
    assert workers.hops == 0  # the refusal was answered on the event loop too


def test_the_read_connection_never_waits(world: World) -> None:
    store = world.service.store
    assert isinstance(store, SqlAuthStore)
    hashed = token_hash(world.tokens["vic"])
    with no_wait():
        grant = store.token_grant(hashed)
    assert grant is not None
    assert grant.role is Role.VIEWER
    reader = store._loop_reader()
    with reader._lock, no_wait(), pytest.raises(WouldBlock, match="in use"):
        store.token_grant(hashed)  # held by another caller: the thread path, no wait
    assert store.token_grant(hashed) == grant  # outside no_wait: the pool, as before


def test_only_a_sqlite_file_gets_a_read_connection(tmp_path: Path) -> None:
    assert isinstance(loop_reader(create_engine(f"sqlite:///{tmp_path / 'k.db'}")), LoopReader)
    assert loop_reader(create_engine("sqlite://")) is None
    assert loop_reader(create_engine("postgresql+psycopg://kiln@127.0.0.1/kiln")) is None
    memory = SqlAuthStore(create_engine("sqlite://"))
    with no_wait(), pytest.raises(WouldBlock, match="pooled connection"):
        memory.token_grant("0" * 64)
