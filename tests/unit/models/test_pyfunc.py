from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.models import pyfunc
from kiln.models.mlmodel import ModelMetadata
from kiln.models.signature import infer_signature


class AddN(pyfunc.PythonModel):
    def load_context(self, context: pyfunc.PythonModelContext) -> None:
        self.n = float(Path(context.artifacts["n"]).read_text())

    def predict(
        self, context: pyfunc.PythonModelContext, model_input: Any, params: Any = None
    ) -> Any:
        scale = (params or {}).get("scale", 1.0)
        return (model_input["a"] + self.n) * scale


def _save_add_n(path: Path, tmp_path: Path, **kwargs: Any) -> ModelMetadata:
    n_file = tmp_path / "n.txt"
    n_file.write_text("10")
    return pyfunc.save_model(path, python_model=AddN(), artifacts={"n": str(n_file)}, **kwargs)


def test_python_model_round_trip_with_artifacts_and_params(tmp_path: Path) -> None:
    path = tmp_path / "model"
    _save_add_n(path, tmp_path)
    model = pyfunc.load_model(str(path))
    data = pd.DataFrame({"a": [1.0, 2.0]})
    assert model.predict(data).tolist() == [11.0, 12.0]
    assert model.predict(data, params={"scale": 2.0}).tolist() == [22.0, 24.0]
    conf = model.metadata.pyfunc_conf
    assert conf is not None
    assert conf["loader_module"] == "mlflow.pyfunc.model"
    assert conf["artifacts"]["n"]["path"] == "artifacts/n.txt"
    assert {p.name for p in path.iterdir()} >= {
        "MLmodel",
        "python_model.pkl",
        "python_env.yaml",
        "requirements.txt",
        "conda.yaml",
    }


def test_signature_and_example_are_saved_and_enforced(tmp_path: Path) -> None:
    path = tmp_path / "model"
    example = pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2]})
    signature = infer_signature(example, example["a"])
    _save_add_n(path, tmp_path, signature=signature, input_example=example)
    model = pyfunc.load_model(path)
    assert model.metadata.signature == signature
    pd.testing.assert_frame_equal(model.input_example, example)
    assert model.predict({"a": [1.0], "b": [3]}).tolist() == [11.0]
    with pytest.raises(InvalidInput, match=r"missing inputs \['b'\]"):
        model.predict(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(InvalidInput, match="column b"):
        model.predict(pd.DataFrame({"a": [1.0], "b": [1.5]}))


def test_save_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    path = tmp_path / "model"
    path.mkdir()
    (path / "x").write_text("x")
    with pytest.raises(AlreadyExists, match="already exists"):
        _save_add_n(path, tmp_path)


def test_save_needs_a_python_model(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="python_model"):
        pyfunc.save_model(tmp_path / "m")


def test_load_of_missing_folder_says_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no model"):
        pyfunc.load_model(str(tmp_path / "nothing"))


def test_unknown_loader_module_is_refused(tmp_path: Path) -> None:
    ModelMetadata(flavors={"python_function": {"loader_module": "mlflow.paddle"}}).save(tmp_path)
    with pytest.raises(InvalidInput, match=r"loader_module 'mlflow.paddle'"):
        pyfunc.load_model(tmp_path)


def test_numpy_input_reaches_a_model_without_signature(tmp_path: Path) -> None:
    class Total(pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return np.asarray(model_input).sum(axis=1)

    pyfunc.save_model(tmp_path / "m", python_model=Total(), input_example=np.ones((2, 3)))
    model = pyfunc.load_model(tmp_path / "m")
    assert model.predict(np.ones((4, 3))).tolist() == [3.0] * 4
    assert model.metadata.saved_input_example_info == {
        "artifact_path": "input_example.json",
        "serving_input_path": "serving_input_example.json",
        "type": "ndarray",
    }


def test_log_model_registers_and_loads_through_every_uri(tracking_uri: str, tmp_path: Path) -> None:
    n_file = tmp_path / "n.txt"
    n_file.write_text("1")
    with kiln.start_run() as run:
        info = pyfunc.log_model(
            "model",
            python_model=AddN(),
            artifacts={"n": str(n_file)},
            registered_model_name="adder",
        )
    # MLflow 3: a logged model, not a folder of the run's artifacts.
    assert info.model_id is not None
    assert info.model_uri == f"models:/{info.model_id}"
    assert info.registered_model_version == 1
    assert info.metadata.run_id == run.info.run_id
    assert info.model_uuid == info.model_id
    logged = kiln.get_logged_model(info.model_id)
    assert (logged.name, logged.source_run_id) == ("model", run.info.run_id)
    assert info.artifact_path == logged.artifact_location
    assert logged.artifact_location.endswith(f"/models/{info.model_id}/artifacts")
    assert kiln.MlflowClient().list_artifacts(run.info.run_id) == []
    assert "mlflow.log-model.history" not in kiln.get_run(run.info.run_id).data.tags
    data = pd.DataFrame({"a": [1.0]})
    uris = (
        info.model_uri,
        f"runs:/{run.info.run_id}/model",
        "models:/adder/1",
        "models:/adder/latest",
    )
    for uri in uris:
        model = pyfunc.load_model(uri)
        assert model.predict(data).tolist() == [2.0]
        assert model.metadata.artifact_path == logged.artifact_location
        assert model.metadata.model_id == info.model_id


def test_lazy_flavor_attributes() -> None:
    assert kiln.pyfunc.load_model is pyfunc.load_model
    assert kiln.sklearn.FLAVOR_NAME == "sklearn"


def test_signature_is_inferred_from_the_input_example(tmp_path: Path) -> None:
    example = pd.DataFrame({"a": [1.0, 2.0]})
    metadata = _save_add_n(tmp_path / "m", tmp_path, input_example=example)
    assert metadata.signature is not None
    assert metadata.signature.to_dict()["outputs"] == (
        '[{"type": "double", "name": "a", "required": true}]'
    )


def test_a_model_failing_on_its_example_is_saved_without_signature(tmp_path: Path) -> None:
    class Broken(pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            raise RuntimeError("boom")

    metadata = pyfunc.save_model(
        tmp_path / "m", python_model=Broken(), input_example=pd.DataFrame({"a": [1.0]})
    )
    assert metadata.signature is None
    assert metadata.saved_input_example_info is not None
