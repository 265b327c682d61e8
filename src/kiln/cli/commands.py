"""Commands the CLI prints for the user to run next, spelled so that they run as printed.

After ``bash scripts/install`` Kiln lives in ``.venv/bin`` and that folder is not on
``PATH`` until the venv is activated: a printed ``kiln runs show ...`` would answer
"command not found". These helpers print the bare name when ``PATH`` finds this very
installation, else its full path.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path


def _beside_python(name: str) -> Path:
    # Console scripts are installed next to the interpreter of their environment; do not
    # resolve symlinks: a venv's python links to the base interpreter's folder.
    return Path(sys.executable).parent / name


def _same_file(found: str | None, expected: Path) -> bool:
    if found is None or not expected.exists():
        return False
    return Path(found).resolve() == expected.resolve()


def _runnable(name: str, module: str) -> str:
    """``name`` when ``PATH`` finds this environment's script, else its full path, else
    ``python -m module`` (no script installed)."""
    script = _beside_python(name)
    if _same_file(shutil.which(name), script):
        return name
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m {module}"


def kiln_command() -> str:
    """``kiln`` when ``PATH`` finds this installation's ``kiln``, else a runnable path."""
    return _runnable("kiln", "kiln.cli.main")


def pip_command() -> str:
    """``pip`` when ``PATH`` finds this environment's pip, else a runnable path."""
    return _runnable("pip", "pip")


__all__ = ["kiln_command", "pip_command"]
