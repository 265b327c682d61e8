"""``import kiln`` stays light: heavy libraries load only when a call needs them.

Deterministic checks on ``sys.modules`` in a fresh interpreter, not timings.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "sqlalchemy", "matplotlib", "sklearn", "numpy", "yaml", "rich", "alembic")


def _loaded_after(statement: str) -> set[str]:
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "statement",
    [
        "import kiln",
        "import kiln; kiln.start_run; kiln.KilnClient; kiln.search_runs",
        "import kiln.cli.main",
    ],
)
def test_heavy_modules_are_not_imported(statement: str) -> None:
    assert _loaded_after(statement) == set()


def test_fluent_names_resolve_lazily() -> None:
    import kiln

    assert set(kiln.__all__) <= set(dir(kiln))
    for name in kiln.__all__:
        assert getattr(kiln, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        kiln.nope  # noqa: B018
