"""``kiln.autolog()`` waits for a library's import instead of importing every framework.

Each case runs in a fresh interpreter: what matters is which modules the process
has loaded, and the hooks live in ``sys.meta_path`` for the process's lifetime.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiln.models.autolog.import_hooks import ImportHooks


def _run(tmp_path: Path, code: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KILN_"))}
    env["KILN_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_autolog_imports_no_framework_and_starts_each_on_its_import(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        """
        import json, sys
        import kiln
        flavors = kiln.autolog(silent=True)
        heavy = [m for m in ("sklearn", "xgboost", "lightgbm", "keras", "tensorflow",
                             "lightning", "torch") if m in sys.modules]
        import numpy as np
        import xgboost as xgb
        x = np.arange(40, dtype=float).reshape(20, 2)
        booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=x[:, 0]), num_boost_round=3)
        run = kiln.last_active_run()
        print(json.dumps({"flavors": flavors, "heavy_after_autolog": heavy,
                          "params": sorted(run.data.params) if run else None,
                          "keras_loaded": "keras" in sys.modules}))
        """,
    )
    assert result["heavy_after_autolog"] == []
    assert set(result["flavors"]) >= {"sklearn", "xgboost", "lightgbm", "keras", "pytorch"}  # type: ignore[arg-type]
    params = result["params"]
    assert isinstance(params, list)
    assert {"max_depth", "num_boost_round"} <= set(params)
    assert result["keras_loaded"] is False


def test_disable_before_the_import_cancels_the_waiting_autolog(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        """
        import json
        import kiln
        kiln.autolog(silent=True)
        kiln.autolog(disable=True)
        from sklearn.linear_model import LinearRegression
        LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
        print(json.dumps({"run": kiln.last_active_run() is not None}))
        """,
    )
    assert result == {"run": False}


def test_an_already_imported_library_is_configured_at_once(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        """
        import json
        from sklearn.linear_model import LinearRegression
        import kiln
        kiln.autolog(silent=True)
        LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
        run = kiln.last_active_run()
        print(json.dumps({"tag": run.data.tags.get("mlflow.autologging") if run else None}))
        """,
    )
    assert result == {"tag": "sklearn"}


def test_a_hook_runs_once_after_the_module_and_a_failing_hook_spares_the_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "kiln_hooked_probe.py").write_text("VALUE = 42\n")
    (tmp_path / "kiln_hooked_broken.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    hooks = ImportHooks()
    seen: list[int] = []

    def fail() -> None:
        raise RuntimeError("boom")

    try:
        assert not hooks.when_imported(["kiln_hooked_probe"], lambda: seen.append(probe()))
        assert not hooks.when_imported(["kiln_hooked_broken"], fail)
        broken = importlib.import_module("kiln_hooked_broken")
        importlib.import_module("kiln_hooked_probe")

        assert seen == [42]
        assert broken.VALUE == 7
        assert "boom" in caplog.text
        assert hooks.when_imported(["kiln_hooked_probe"], lambda: seen.append(0))
        assert seen == [42, 0]
    finally:
        sys.meta_path.remove(hooks)
        for name in ("kiln_hooked_probe", "kiln_hooked_broken"):
            sys.modules.pop(name, None)


def probe() -> int:
    value: int = sys.modules["kiln_hooked_probe"].VALUE
    return value
