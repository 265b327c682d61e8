"""``PythonModel`` artifacts given as any URI MLflow downloads: paths, ``file://``,
``runs:/`` (file or folder), ``models:/``; the saved layout is compared with the real
``mlflow.pyfunc.save_model`` where MLflow can read the same sources (local ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow as real_mlflow
import pandas as pd
import pytest
import yaml

import kiln
from kiln.errors import InvalidInput
from kiln.models import pyfunc


class _Echo(pyfunc.PythonModel):
    def predict(self, context: Any, model_input: Any) -> Any:
        return model_input


class _Reader(pyfunc.PythonModel):
    """Answers what its artifacts hold, read when loaded."""

    def load_context(self, context: Any) -> None:
        paths = {name: Path(path) for name, path in context.artifacts.items()}
        self.found = {
            "vocab": paths["vocab"].read_text(),
            "weights": (paths["weights"] / "layer.txt").read_text(),
            "registered": (paths["registered"] / "MLmodel").is_file(),
        }

    def predict(self, context: Any, model_input: Any) -> Any:
        return pd.DataFrame([self.found])


class _RealEcho(real_mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: Any) -> Any:
        return model_input


def _artifacts_conf(model_dir: Path) -> dict[str, Any]:
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    conf: dict[str, Any] = mlmodel["flavors"]["python_function"]["artifacts"]
    return conf


def test_local_artifacts_are_laid_out_as_mlflow_lays_them_out(tmp_path: Path) -> None:
    for folder, name, text in (("a", "x.txt", "1"), ("b", "x.txt", "2"), ("c", "y.txt", "3")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(text)
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "w.bin").write_bytes(b"\x01")
    artifacts = {
        "first": str(tmp_path / "a" / "x.txt"),
        "second": (tmp_path / "b" / "x.txt").as_uri(),
        "third": str(tmp_path / "c" / "y.txt"),
        "again": str(tmp_path / "c" / "y.txt"),
        "folder": str(tmp_path / "weights"),
    }
    pyfunc.save_model(tmp_path / "ours", python_model=_Echo(), artifacts=artifacts)
    real_mlflow.pyfunc.save_model(
        str(tmp_path / "theirs"), python_model=_RealEcho(), artifacts=artifacts
    )
    ours, theirs = _artifacts_conf(tmp_path / "ours"), _artifacts_conf(tmp_path / "theirs")
    assert ours == theirs
    assert ours["first"]["path"] == "artifacts/0/x.txt"
    assert (tmp_path / "ours" / ours["second"]["path"]).read_text() == "2"
    assert (tmp_path / "ours" / "artifacts" / "weights" / "w.bin").read_bytes() == b"\x01"
    assert not (tmp_path / "ours" / ".kiln-artifacts").exists()


def test_run_and_model_uris_are_downloaded(tracking_uri: str, tmp_path: Path) -> None:
    with kiln.start_run() as run:
        kiln.log_text("hello", "data/vocab.txt")
        kiln.log_text("w", "weights/layer.txt")
        kiln.pyfunc.log_model(name="base", python_model=_Echo())
    kiln.register_model(f"runs:/{run.info.run_id}/base", "base")
    run_uri = f"runs:/{run.info.run_id}"
    artifacts = {
        "vocab": f"{run_uri}/data/vocab.txt",
        "weights": f"{run_uri}/weights",
        "registered": "models:/base/1",
    }
    with kiln.start_run():
        info = kiln.pyfunc.log_model(name="model", python_model=_Reader(), artifacts=artifacts)
    answer = kiln.pyfunc.load_model(info.model_uri).predict(pd.DataFrame({"a": [1]}))
    assert answer.to_dict("records") == [{"vocab": "hello", "weights": "w", "registered": True}]


def test_an_artifact_that_cannot_be_fetched_is_named(tracking_uri: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="artifact 'gone': cannot fetch"):
        pyfunc.save_model(
            tmp_path / "m", python_model=_Echo(), artifacts={"gone": str(tmp_path / "none")}
        )
