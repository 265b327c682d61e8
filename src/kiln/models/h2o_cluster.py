"""The H2O cluster models run on: connected once per process, started when needed.

H2O models live in a Java process; the Python package is a client. ``ensure``
reuses the cluster this process is already connected to (a user who called
``h2o.init()`` keeps theirs), and otherwise starts a private one on a free port
(about 6-7 s), so two processes never share, or stop, each other's cluster. Needs Java.

``h2o.init`` starts the JVM in a session of its own and stops it only from an
``atexit`` hook, so a process that is killed (SIGKILL, a worker's ``os._exit``)
would leave the JVM running forever. A private cluster therefore gets a watchdog:
a tiny ``sh`` loop that kills the JVM once the process that started it is gone.

A private cluster also gets a flatfile naming only itself. Without one, H2O forms
clusters by multicast, and a JVM starting while another one on the machine is
locked can be told to join it and exit ("Attempting to join an H2O cloud that is no
longer accepting new H2O nodes"), which made two processes starting H2O at once fail.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from kiln.models.loaders import require

EXTRA = "h2o"
_log = logging.getLogger(__name__)
_lock = threading.Lock()


def _free_port_pair() -> int:
    """A port ``p`` with ``p`` and ``p + 1`` free (H2O listens on both)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port >= 65535:
            continue
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise OSError("no two adjacent free TCP ports for the H2O cluster")


def _running(h2o: Any) -> bool:
    try:
        cluster = h2o.cluster()
        return cluster is not None and bool(cluster.is_running())
    except Exception:  # a connection whose server has gone away
        return False


def _jvm_pid(h2o: Any) -> int | None:
    """The pid of the JVM this process started, or None for a cluster it joined."""
    server = getattr(h2o.connection(), "_local_server", None)
    process = getattr(server, "_process", None)
    pid = getattr(process, "pid", None)
    return pid if isinstance(pid, int) else None


def _watch(jvm_pid: int, owner_pid: int) -> None:
    """Kill ``jvm_pid`` (TERM, then KILL after 5 s) once ``owner_pid`` has exited."""
    script = (
        f"while kill -0 {owner_pid} 2>/dev/null; do sleep 1; done; "
        f"kill {jvm_pid} 2>/dev/null; sleep 5; kill -9 {jvm_pid} 2>/dev/null; true"
    )
    # The outer shell backgrounds the loop and exits at once, so the loop is nobody's child
    # here (no Popen left running to reap) and, in a session of its own, outlives a group kill.
    subprocess.run(
        ["/bin/sh", "-c", f"({script}) >/dev/null 2>&1 </dev/null &"],
        check=True,
        start_new_session=True,
    )


@contextlib.contextmanager
def solo_flatfile(port: int) -> Iterator[dict[str, Any]]:
    """``h2o.init`` arguments that keep a JVM on ``port`` a cluster of one.

    H2O copies ``ai.h2o.*`` system properties onto its command line, so the flatfile
    reaches the JVM through ``jvm_custom_args``; it is read at start and removed after.
    """
    handle, path = tempfile.mkstemp(prefix="kiln-h2o-", suffix=".flatfile")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(f"127.0.0.1:{port}\n")
        yield {"jvm_custom_args": [f"-Dai.h2o.flatfile={path}"]}
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def ensure(init: Mapping[str, Any] | None = None) -> Any:
    """The ``h2o`` module, connected to a running cluster.

    Args:
        init: extra ``h2o.init`` arguments (MLflow's ``h2o.yaml`` ``init`` section).
    """
    h2o = require("h2o", EXTRA)
    with _lock:
        if _running(h2o):
            return h2o
        port = _free_port_pair()
        chatter = io.StringIO()  # h2o prints its cluster table and version nags
        with (
            solo_flatfile(port) as solo,
            warnings.catch_warnings(),
            contextlib.redirect_stdout(chatter),
        ):
            options: dict[str, Any] = {
                "port": port,
                "verbose": False,
                "telemetry": False,
                "enable_assertions": False,
                **solo,
            }
            options.update(init or {})
            # h2o leaves the server's log files to the garbage collector
            warnings.simplefilter("ignore", ResourceWarning)
            h2o.init(**options)
        if chatter.getvalue().strip():
            _log.info("h2o.init: %s", chatter.getvalue().strip())
        h2o.no_progress()
        jvm = _jvm_pid(h2o)
        if jvm is not None:
            _watch(jvm, os.getpid())
    return h2o


__all__ = ["ensure", "solo_flatfile"]
