"""The SQL tracking store and the tracking client import no numpy: a project's
environment (``kiln run`` with uv or virtualenv) may not have it."""

from __future__ import annotations

import subprocess
import sys


def test_the_sql_store_and_the_client_load_without_numpy() -> None:
    code = (
        "import sys, kiln.store.sql.tracking, kiln.tracking.client, kiln.tracking.fluent; "
        "print('numpy' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False", done.stderr
