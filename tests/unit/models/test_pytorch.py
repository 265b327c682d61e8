"""The PyTorch flavor: pt2 and pickle round trips, MLflow's layout, signatures, pyfunc inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from kiln.errors import InvalidInput
from kiln.models import pyfunc
from kiln.models import pytorch as kiln_pytorch
from kiln.models.mlmodel import ModelMetadata


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))


def _expected(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out: np.ndarray = net(torch.tensor(x, dtype=torch.float32)).numpy()
    return out


class TwoInputs(torch.nn.Module):
    """A model with named tensor inputs (what several V2 tensors become)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([2.0]))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * self.scale + b


def test_pickle_round_trip_with_a_frame_example(tmp_path: Path, frame: pd.DataFrame) -> None:
    net = _net()
    path = tmp_path / "model"
    kiln_pytorch.save_model(net, path, input_example=frame.head(3))
    assert (path / "data" / "model.pth").is_file()
    assert (path / "data" / "pickle_module_info.txt").read_text() == (
        "mlflow.pytorch.pickle_module"
    )
    loaded = kiln_pytorch.load_model(path)
    assert not loaded.training
    expected = _expected(net, frame.to_numpy())
    with torch.no_grad():
        native = loaded(torch.tensor(frame.to_numpy(), dtype=torch.float32)).numpy()
    np.testing.assert_allclose(native, expected, rtol=1e-6)
    model = pyfunc.load_model(path)
    predicted = model.predict(frame)
    assert isinstance(predicted, pd.DataFrame)
    np.testing.assert_allclose(predicted.to_numpy(), expected, rtol=1e-6)
    signature = model.metadata.signature
    assert signature is not None
    assert signature.inputs is not None
    assert signature.inputs.input_names() == ["a", "b", "c"]


def test_mlmodel_matches_mlflow_layout(tmp_path: Path, frame: pd.DataFrame) -> None:
    import platform

    kiln_pytorch.save_model(_net(), tmp_path / "m", input_example=frame.head(2))
    flavors = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]
    assert flavors["pytorch"] == {
        "code": None,
        "model_data": "data",
        "pytorch_version": torch.__version__,
    }
    assert flavors["python_function"] == {
        "code": None,
        "data": "data",
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "loader_module": "mlflow.pytorch",
        "model_config": {"device": None},
        "pickle_module_name": "mlflow.pytorch.pickle_module",
        "python_version": platform.python_version(),
    }
    requirements = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in requirements)
    assert pins["torch"] == torch.__version__
    assert "cloudpickle" in pins


def test_pt2_round_trip_keeps_the_batch_dynamic(tmp_path: Path) -> None:
    net = _net()
    x = np.random.default_rng(1).normal(size=(8, 3))
    path = tmp_path / "model"
    kiln_pytorch.save_model(net, path, input_example=x.astype(np.float32))  # pt2 by default
    assert sorted(p.name for p in (path / "data").iterdir()) == ["model.pt2"]
    model = pyfunc.load_model(path)
    signature = model.metadata.signature
    assert signature is not None
    assert signature.inputs is not None
    assert signature.inputs.to_list() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}
    ]
    for rows in (1, 5, 8):
        batch = x[:rows].astype(np.float32)
        np.testing.assert_allclose(model.predict(batch), _expected(net, batch), rtol=1e-6)
    with pytest.raises(InvalidInput, match=r"expected \[-1, 3\], got \[2, 4\]"):
        model.predict(np.zeros((2, 4), dtype=np.float32))


def test_float64_example_is_traced_at_the_model_dtype(tmp_path: Path) -> None:
    net = _net()
    x = np.random.default_rng(2).normal(size=(4, 3))
    kiln_pytorch.save_model(net, tmp_path / "m", serialization_format="pt2", input_example=x)
    model = pyfunc.load_model(tmp_path / "m")
    np.testing.assert_allclose(model.predict(x), _expected(net, x), rtol=1e-6)
    assert model.predict(x).dtype == np.float32


def test_pt2_needs_an_array_example(tmp_path: Path, frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="numpy array or torch tensor"):
        kiln_pytorch.save_model(
            _net(), tmp_path / "m", serialization_format="pt2", input_example=frame
        )
    assert not (tmp_path / "m").exists()


def test_refuses_what_is_not_a_module(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"must be a torch\.nn\.Module, not dict"):
        kiln_pytorch.save_model({"weights": 1}, tmp_path / "m")
    with pytest.raises(InvalidInput, match="Unrecognized serialization format: onnx"):
        kiln_pytorch.save_model(_net(), tmp_path / "m", serialization_format="onnx")


def test_signature_enforced_before_the_model_runs(tmp_path: Path, frame: pd.DataFrame) -> None:
    kiln_pytorch.save_model(_net(), tmp_path / "m", input_example=frame.head(2))
    model = pyfunc.load_model(tmp_path / "m")
    with pytest.raises(InvalidInput, match=r"missing inputs \['c'\]"):
        model.predict(frame[["a", "b"]])
    reordered = model.predict(frame[["c", "b", "a"]])  # columns are put in signature order
    np.testing.assert_allclose(reordered.to_numpy(), _expected(_net(), frame.to_numpy()), 1e-6)


def test_named_tensor_inputs_go_in_as_keywords(tmp_path: Path) -> None:
    path = tmp_path / "m"
    kiln_pytorch.save_model(TwoInputs(), path, serialization_format="pickle")
    model = pyfunc.load_model(path)
    a = np.array([[1.0], [2.0]])
    b = np.array([[0.5], [0.25]], dtype=np.float32)
    np.testing.assert_allclose(model.predict({"a": a, "b": b}), [[2.5], [4.25]])


def test_bad_inputs_name_the_problem(tmp_path: Path) -> None:
    kiln_pytorch.save_model(_net(), tmp_path / "m", serialization_format="pickle")
    model = pyfunc.load_model(tmp_path / "m")
    with pytest.raises(InvalidInput, match="takes a DataFrame, a numpy array or a dict"):
        model.predict([[1.0, 2.0, 3.0]])
    with pytest.raises(InvalidInput, match="numeric tensors, not values of dtype <U1"):
        model.predict(np.array([["a", "b", "c"]]))
    with pytest.raises(InvalidInput, match="'device' is not an inference parameter"):
        model.predict(np.zeros((1, 3)), params={"device": "cuda"})


def test_log_model_registers_and_loads_by_name(tracking_uri: str, frame: pd.DataFrame) -> None:
    net = _net()
    info = kiln_pytorch.log_model(
        net, "net", input_example=frame.head(2), registered_model_name="torch-net"
    )
    assert info.registered_model_version == 1
    assert set(info.flavors) == {"pytorch", "python_function"}
    model = pyfunc.load_model("models:/torch-net/1")
    np.testing.assert_allclose(
        model.predict(frame).to_numpy(), _expected(net, frame.to_numpy()), rtol=1e-6
    )
    assert ModelMetadata.load(model.path).run_id == info.run_id
