"""``kiln.sklearn`` and the other flavors are importable modules at MLflow's paths.

Each runs in a fresh interpreter: what an import loads is only visible there.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FLAVORS = ("pyfunc", "sklearn", "xgboost", "lightgbm", "onnx", "keras", "pytorch", "h2o")
HEAVY = ("numpy", "pandas", "sklearn", "xgboost", "lightgbm", "onnx", "torch", "keras", "h2o")


def _run(code: str) -> object:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("flavor", FLAVORS)
def test_importing_a_flavor_loads_no_framework(flavor: str) -> None:
    code = (
        "import json, sys\n"
        f"import kiln.{flavor}\n"
        f"from kiln import {flavor}\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    assert _run(code) == []


def test_flavor_names_are_the_models_modules_names() -> None:
    code = (
        "import json, sys\n"
        "import kiln, kiln.sklearn, kiln.models.sklearn as impl\n"
        "from kiln.sklearn import log_model\n"
        "from kiln.pyfunc import PythonModel\n"
        "import kiln.models.pyfunc\n"
        "print(json.dumps([\n"
        "    kiln.sklearn is sys.modules['kiln.sklearn'],\n"
        "    log_model is impl.log_model,\n"
        "    kiln.sklearn.save_model is impl.save_model,\n"
        "    PythonModel is kiln.models.pyfunc.PythonModel,\n"
        "    'sklearn' in sys.modules,\n"
        "]))\n"
    )
    assert _run(code) == [True, True, True, True, False]


def test_attribute_access_star_import_and_dir() -> None:
    import kiln
    import kiln.models.xgboost

    assert kiln.xgboost.log_model is kiln.models.xgboost.log_model
    assert set(kiln.models.xgboost.__all__) <= set(dir(kiln.xgboost))
    namespace: dict[str, object] = {}
    exec("from kiln.lightgbm import *", namespace)
    assert "log_model" in namespace
    with pytest.raises(AttributeError, match=r"module 'kiln\.onnx' has no attribute 'nope'"):
        kiln.onnx.nope  # noqa: B018


def test_probing_dunder_names_does_not_load_the_flavor() -> None:
    code = (
        "import json, sys\n"
        "import kiln.keras\n"
        "found = [hasattr(kiln.keras, n) for n in ('__path__', '__wrapped__')]\n"
        "print(json.dumps([*found, 'kiln.models.keras' in sys.modules]))\n"
    )
    assert _run(code) == [False, False, False]
