"""Remove a folder once a process has exited: ``python -m kiln.cli.cleanup PID FOLDER``.

``kiln models serve`` replaces itself with the scoring process (``os.execv``), so
it cannot remove the ``kiln-model-*`` folder it downloaded the model into. It starts
this watcher instead, detached (own session, no terminal, no inherited sockets), so
that Ctrl-C on the server, a SIGTERM or even a SIGKILL of it still ends with the
folder gone. Only the standard library is imported: the watcher costs a few MB.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


def start_watcher(pid: int, folder: Path) -> None:
    """Start a detached process that removes ``folder`` once process ``pid`` has exited.

    Returns once the watcher runs on its own (it is not a child of ``pid`` afterwards).
    """
    argv = [sys.executable, "-m", "kiln.cli.cleanup", str(pid), str(folder)]
    starter = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
    )
    starter.wait()  # the starter forks the watcher and exits at once


def wait_for_exit(pid: int) -> None:
    """Block until process ``pid`` has exited (a pidfd where Linux has one, else polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # no pidfd (macOS, old kernels): poll
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                pass
            time.sleep(1.0)
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    """Fork the watcher (so it is nobody's child but init's), then wait and remove."""
    if len(argv) != 2:
        print("usage: python -m kiln.cli.cleanup PID FOLDER", file=sys.stderr)
        return 2
    pid, folder = int(argv[0]), Path(argv[1])
    if os.fork() != 0:
        return 0
    for number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    wait_for_exit(pid)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]))
