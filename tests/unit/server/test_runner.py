"""The uvicorn runner: TCP_NODELAY on multi-worker sockets, settings through the environment."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from kiln.cli.server import server
from kiln.config import Settings
from kiln.server.runner import NoDelayH11Protocol, settings_env


async def _accepted_nodelay(protocol_class: type[H11Protocol]) -> int:
    """TCP_NODELAY of the server side of one connection accepted on a socket made
    like uvicorn's multi-worker one (``socket.socket()``: proto 0, so asyncio skips it)."""
    config = uvicorn.Config(app=lambda scope, receive, send: None, http=protocol_class)
    config.load()
    state = ServerState()
    made = asyncio.Event()
    transports: list[asyncio.Transport] = []

    class Probe(protocol_class):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            transports.append(transport)
            made.set()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(
        lambda: Probe(config=config, server_state=state, app_state={}), sock=listener
    )
    _reader, writer = await asyncio.open_connection(*listener.getsockname())
    await asyncio.wait_for(made.wait(), timeout=10)
    value: int = (
        transports[0].get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    )
    writer.close()
    transports[0].close()
    srv.close()
    await srv.wait_closed()
    return value


def test_plain_h11_leaves_nodelay_off_on_a_proto0_listener() -> None:
    assert asyncio.run(_accepted_nodelay(H11Protocol)) == 0


def test_nodelay_protocol_sets_tcp_nodelay() -> None:
    assert asyncio.run(_accepted_nodelay(NoDelayH11Protocol)) != 0


def test_settings_travel_to_workers_through_the_environment(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        tracking_uri="ignored",
        backend_store_uri="sqlite:///x.db",
        artifacts_destination="s3://bucket/a",
        default_artifact_root="s3://bucket/root",
        host="0.0.0.0",
        port=6001,
        workers=3,
        allowed_hosts=("mlflow.corp.test", "*.internal"),
        cors_allowed_origins=("https://ui.corp.test",),
    )
    rebuilt = Settings.from_env(settings_env(settings))
    assert rebuilt.allowed_hosts == ("mlflow.corp.test", "*.internal")
    assert rebuilt.cors_allowed_origins == ("https://ui.corp.test",)
    assert (
        rebuilt.home,
        rebuilt.backend_store_uri,
        rebuilt.artifacts_destination,
        rebuilt.default_artifact_root,
        rebuilt.host,
        rebuilt.port,
        rebuilt.workers,
    ) == (tmp_path, "sqlite:///x.db", "s3://bucket/a", "s3://bucket/root", "0.0.0.0", 6001, 3)


def test_defaults_are_filled_in_for_workers(tmp_path: Path) -> None:
    env = settings_env(Settings(home=tmp_path, tracking_uri="http://me:5000"))
    assert env["KILN_BACKEND_STORE_URI"] == f"sqlite:///{tmp_path / 'kiln.db'}"
    assert env["KILN_ARTIFACTS_DESTINATION"] == str(tmp_path / "artifacts")
    assert "KILN_DEFAULT_ARTIFACT_ROOT" not in env


def test_cli_help_lists_the_flags() -> None:
    result = CliRunner().invoke(server, ["--help"])
    assert result.exit_code == 0
    for flag in (
        "--host",
        "--port",
        "--backend-store-uri",
        "--artifacts-destination",
        "--workers",
        "--allowed-hosts",
        "--cors-allowed-origins",
    ):
        assert flag in result.output


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_cli_rejects_fewer_than_one_worker(workers: str) -> None:
    result = CliRunner().invoke(server, ["--workers", workers])
    assert result.exit_code == 2
    assert "--workers" in result.output


CHILD_OF_A_DOOMED_PARENT = """
import os, sys, time
from kiln import netproto
if sys.argv[1] == "fallback":  # as on a system without prctl: only the watchdog thread
    netproto._set_parent_death_signal = lambda signum: False
pid = os.fork()
if pid == 0:
    netproto.die_with_parent(os.getppid(), grace_s=5, poll_s=0.05)
    print(os.getpid(), flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited, not yet reaped by init


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("mode", ["prctl", "fallback"])
def test_a_worker_dies_with_its_killed_parent(mode: str) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    with subprocess.Popen(
        [sys.executable, "-c", CHILD_OF_A_DOOMED_PARENT, mode], stdout=subprocess.PIPE
    ) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while not _gone(child):
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            pytest.fail(f"worker {child} outlived its parent ({mode})")
        time.sleep(0.02)  # polling another process's exit
