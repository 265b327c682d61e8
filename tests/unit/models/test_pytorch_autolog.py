"""kiln.pytorch.autolog against the real mlflow.pytorch.autolog: the same fits, the same names.

Each scenario trains the same tiny LightningModule (same seed, same data) once
under MLflow's autolog and once under Kiln's, then compares params (keys and
values), metric keys with the steps they were logged at, tag keys and artifact
paths. MLflow's scenarios share one SQLite store (creating it is the slow part)
and run once per module. MLflow 3 keeps a model as a LoggedModel; both sides'
model files are listed as ``model/<file>`` wherever they are stored, and the
``mlflow.log-model.history`` tag is left out. MLflow only recognises
``pytorch_lightning``'s ``EarlyStopping``, so the early-stopping comparison uses
that package; Kiln recognises ``lightning``'s too (tested on its own).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import lightning
import mlflow
import mlflow.pytorch
import numpy as np
import pytest
import pytorch_lightning
import torch
from mlflow import MlflowClient
from torch.utils.data import DataLoader, TensorDataset

import kiln
import kiln.pyfunc
import kiln.pytorch
from kiln.errors import InvalidInput
from kiln.models.resolve import download_model
from kiln.tracking import fluent

MODEL_HISTORY_TAG = "mlflow.log-model.history"
GIT_TAGS = "mlflow.source.git."


class _Steps:
    """A few linear layers; train, validation and test steps log their losses."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)
        )
        self.fail = fail

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # type: ignore[no-any-return]

    def _loss(self, batch: Any) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        if self.fail:
            raise RuntimeError("training step failed")
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=True)  # type: ignore[attr-defined]
        return loss

    def validation_step(self, batch: Any, index: int) -> None:
        self.log("val_loss", self._loss(batch))  # type: ignore[attr-defined]

    def test_step(self, batch: Any, index: int) -> None:
        self.log("test_loss", self._loss(batch))  # type: ignore[attr-defined]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=0.01)  # type: ignore[attr-defined]


class Net(_Steps, lightning.LightningModule):
    pass


class PLNet(_Steps, pytorch_lightning.LightningModule):
    pass


X = torch.randn(48, 3, generator=torch.Generator().manual_seed(0))
Y = X.sum(1, keepdim=True)


def _loader() -> DataLoader[Any]:
    return DataLoader(TensorDataset(X, Y), batch_size=8)


def _fit(
    package: Any,
    root: Path,
    early_stopping: bool = False,
    test: bool = False,
    fail: bool = False,
) -> Any:
    """Train (and test) a fresh model with ``package``'s Trainer; returns the trainer."""
    torch.manual_seed(0)
    model = (Net if package is lightning else PLNet)(fail=fail)
    callbacks = []
    if early_stopping:
        stopping = (lightning.pytorch if package is lightning else package).callbacks
        callbacks.append(stopping.EarlyStopping("val_loss", patience=1, min_delta=100.0))
    trainer = package.Trainer(
        max_epochs=3,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=early_stopping,
        callbacks=callbacks,
        default_root_dir=str(root),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice (num_workers, ...)
        trainer.fit(model, _loader(), _loader())
        if test:
            trainer.test(model, _loader())
    return trainer


@dataclass
class Logged:
    """What one run holds, by name."""

    params: dict[str, str]
    metrics: dict[str, list[int]]
    tags: set[str]
    artifacts: set[str]


def _tag_keys(tags: dict[str, str]) -> set[str]:
    return {key for key in tags if key != MODEL_HISTORY_TAG and not key.startswith(GIT_TAGS)}


def _files(list_artifacts: Callable[[str | None], Any], path: str | None = None) -> set[str]:
    files: set[str] = set()
    for item in list_artifacts(path):
        files |= _files(list_artifacts, item.path) if item.is_dir else {item.path}
    return files


def _folder_files(folder: Path, name: str) -> set[str]:
    return {f"{name}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*") if p.is_file()}


Scenario = tuple[Any, dict[str, Any], dict[str, Any]]  # package, autolog options, _fit options
SCENARIOS: dict[str, Scenario] = {
    "default": (lightning, {}, {"test": True}),
    "steps_early_stop": (
        pytorch_lightning,
        {"log_every_n_step": 2, "checkpoint_save_best_only": False},
        {"early_stopping": True},
    ),
    "no_model_every_2_epochs": (
        lightning,
        {"log_models": False, "log_every_n_epoch": 2, "checkpoint": False},
        {},
    ),
}


def _mlflow_logged(client: MlflowClient, experiment_id: str) -> Logged:
    (run,) = client.search_runs([experiment_id])
    run_id = run.info.run_id
    artifacts = _files(lambda path: client.list_artifacts(run_id, path))
    for model in mlflow.search_logged_models([experiment_id], output_format="list"):
        artifacts |= _folder_files(Path(urlparse(model.artifact_location).path), model.name)
    metrics = {
        key: [m.step for m in client.get_metric_history(run_id, key)] for key in run.data.metrics
    }
    return Logged(dict(run.data.params), metrics, _tag_keys(run.data.tags), artifacts)


@pytest.fixture(scope="module")
def mlflow_logged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Logged]:
    """Each scenario once under the real mlflow.pytorch.autolog, one experiment each."""
    from mlflow.tracking import _tracking_service
    from mlflow.tracking import fluent as mlflow_fluent

    root = tmp_path_factory.mktemp("mlflow")
    service = _tracking_service.utils
    logged = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"):
            patch.delenv(name, raising=False)
        patch.setenv("MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT", "1")  # default requirements
        patch.setattr(service, "_tracking_uri", service._tracking_uri)
        patch.setattr(mlflow_fluent, "_active_experiment_id", None)
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        client = MlflowClient()
        try:
            for case, (package, options, fit_options) in SCENARIOS.items():
                experiment = mlflow.create_experiment(case, (root / case).as_uri())
                mlflow.set_experiment(experiment_id=experiment)
                mlflow.pytorch.autolog(**options)
                _fit(package, root / f"{case}-root", **fit_options)
                logged[case] = _mlflow_logged(client, experiment)
        finally:
            mlflow.pytorch.autolog(disable=True)
            while mlflow.active_run() is not None:
                mlflow.end_run()
    return logged


@pytest.fixture
def kiln_store(tracking_uri: str) -> Iterator[str]:
    yield tracking_uri
    kiln.pytorch.autolog(disable=True)


def _kiln_runs() -> list[Any]:
    return list(fluent.search_runs(experiment_ids=["0"], output_format="list"))


def _kiln_logged(run: Any, model: bool) -> Logged:
    run_id = run.info.run_id
    client = fluent._client()
    artifacts = _files(lambda path: client.list_artifacts(run_id, path))
    if model:
        artifacts |= _folder_files(download_model(f"runs:/{run_id}/model"), "model")
    metrics = {
        key: [m.step for m in fluent.get_metric_history(run_id, key)] for key in run.data.metrics
    }
    return Logged(dict(run.data.params), metrics, _tag_keys(run.data.tags), artifacts)


def _kiln_case(case: str, root: Path) -> tuple[str, Logged]:
    package, options, fit_options = SCENARIOS[case]
    kiln.pytorch.autolog(**options)
    _fit(package, root, **fit_options)
    kiln.pytorch.autolog(disable=True)
    (run,) = _kiln_runs()
    return run.info.run_id, _kiln_logged(run, options.get("log_models", True))


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_same_names_as_mlflow(
    case: str, mlflow_logged: dict[str, Logged], kiln_store: str, tmp_path: Path
) -> None:
    expected = mlflow_logged[case]
    run_id, got = _kiln_case(case, tmp_path)
    assert got.params == expected.params
    assert got.metrics == expected.metrics
    assert got.tags == expected.tags
    assert got.artifacts == expected.artifacts
    run = fluent.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "pytorch"
    assert fluent.active_run() is None


def test_default_fit_logs_what_mlflow_logs(mlflow_logged: dict[str, Logged]) -> None:
    """The names the comparison rests on are there (not two empty sets)."""
    expected = mlflow_logged["default"]
    assert {"epochs", "optimizer_name", "lr", "betas"} <= set(expected.params)
    assert expected.metrics["val_loss"] == [0, 1, 2]
    assert expected.metrics["test_loss"] == [0]
    assert {"Mode", "mlflow.latest_checkpoint_artifact"} <= expected.tags
    assert {
        "model_summary.txt",
        "checkpoints/latest_checkpoint.pth",
        "model/MLmodel",
        "model/data/model.pth",
    } <= expected.artifacts
    early = mlflow_logged["steps_early_stop"]
    assert {"stopped_epoch", "restored_epoch", "best_score", "wait_count"} <= set(early.metrics)
    assert early.metrics["train_loss_step"] == [1, 3, 5, 7, 9, 11]
    assert any(path.startswith("restored_model_checkpoint/") for path in early.artifacts)
    assert mlflow_logged["no_model_every_2_epochs"].metrics["train_loss"] == [1]


def test_logged_model_loads_and_predicts(kiln_store: str, tmp_path: Path) -> None:
    kiln.pytorch.autolog(checkpoint=False, registered_model_name="lightning-net")
    trainer = _fit(lightning, tmp_path)
    (run,) = _kiln_runs()
    uri = f"runs:/{run.info.run_id}/model"
    module = kiln.pytorch.load_model(uri)
    registered = kiln.pytorch.load_model("models:/lightning-net/1")
    np.testing.assert_allclose(_predict(registered), _predict(module), rtol=1e-6)
    with torch.no_grad():
        expected = trainer.model(X).numpy()
        np.testing.assert_allclose(module(X).numpy(), expected, rtol=1e-6)
    model = kiln.pyfunc.load_model(uri)
    np.testing.assert_allclose(model.predict(X.numpy()), expected, rtol=1e-6)
    signature = model.metadata.signature
    assert signature is not None
    assert signature.to_dict()["inputs"] == (
        '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]'
    )
    assert "forward" not in trainer.model.__dict__  # the signature patch is gone


def _predict(module: Any) -> np.ndarray:
    module.eval()
    with torch.no_grad():
        return module(X).numpy()  # type: ignore[no-any-return]


def test_checkpoints_load_back(kiln_store: str, tmp_path: Path) -> None:
    kiln.pytorch.autolog(log_models=False, checkpoint_save_best_only=False)
    trainer = _fit(lightning, tmp_path)
    (run,) = _kiln_runs()
    run_id = run.info.run_id
    assert (
        run.data.tags["mlflow.latest_checkpoint_artifact"] == "checkpoints/epoch_2/checkpoint.pth"
    )
    latest = kiln.pytorch.load_checkpoint(Net, run_id)
    np.testing.assert_allclose(_predict(latest), _predict(trainer.model), rtol=1e-6)
    first = kiln.pytorch.load_checkpoint(Net, run_id, epoch=0)
    assert not np.allclose(_predict(first), _predict(latest))
    with pytest.raises(InvalidInput, match="Only one of 'epoch' and 'global_step'"):
        kiln.pytorch.load_checkpoint(Net, run_id, epoch=0, global_step=6)
    with pytest.raises(InvalidInput, match="There is no active run"):
        kiln.pytorch.load_checkpoint(Net)


def test_a_users_checkpoint_callback_replaces_autologs(kiln_store: str, tmp_path: Path) -> None:
    kiln.pytorch.autolog(log_models=False)
    callback = kiln.pytorch.MlflowModelCheckpointCallback(
        monitor="train_loss", save_best_only=False, save_freq=3
    )
    torch.manual_seed(0)
    trainer = lightning.Trainer(
        max_epochs=2,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        callbacks=[callback],
        default_root_dir=str(tmp_path),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Net(), _loader())
    (run,) = _kiln_runs()
    checkpoints = {
        path
        for path in _files(lambda p: fluent._client().list_artifacts(run.info.run_id, p))
        if path.startswith("checkpoints/")
    }
    assert checkpoints == {
        f"checkpoints/global_step_{step}/{name}"
        for step in (3, 6, 9, 12)
        for name in ("checkpoint.pth", "checkpoint_metrics.json")
    }
    model = kiln.pytorch.load_checkpoint(Net, run.info.run_id, global_step=12)
    np.testing.assert_allclose(_predict(model), _predict(trainer.model), rtol=1e-6)


def test_early_stopping_of_lightning_is_logged(kiln_store: str, tmp_path: Path) -> None:
    kiln.pytorch.autolog(log_models=False, checkpoint=False)
    _fit(lightning, tmp_path, early_stopping=True)
    (run,) = _kiln_runs()
    params, metrics = run.data.params, run.data.metrics
    assert (params["monitor"], params["mode"], params["patience"]) == ("val_loss", "min", "1")
    assert (metrics["stopped_epoch"], metrics["restored_epoch"]) == (1.0, 0.0)
    assert metrics["wait_count"] == 1.0


def test_fit_inside_a_user_run_logs_there_and_exclusive_does_not(
    kiln_store: str, tmp_path: Path
) -> None:
    kiln.pytorch.autolog(log_models=False, checkpoint=False)
    with kiln.start_run() as run:
        _fit(lightning, tmp_path)
        assert fluent.active_run() is not None
    logged = fluent.get_run(run.info.run_id)
    assert "val_loss" in logged.data.metrics
    assert "mlflow.autologging" not in logged.data.tags
    kiln.pytorch.autolog(exclusive=True, log_models=False, checkpoint=False)
    with kiln.start_run() as user_run:
        _fit(lightning, tmp_path)
    assert fluent.get_run(user_run.info.run_id).data.metrics == {}
    assert len(_kiln_runs()) == 2


def test_extra_tags_and_failed_fit(kiln_store: str, tmp_path: Path) -> None:
    kiln.pytorch.autolog(log_models=False, extra_tags={"team": "ml"})
    with pytest.raises(RuntimeError, match="training step failed"):
        _fit(lightning, tmp_path, fail=True)
    (run,) = _kiln_runs()
    assert run.info.status == "FAILED"
    assert run.data.tags["team"] == "ml"
    assert run.data.params["optimizer_name"] == "Adam"
    assert fluent.active_run() is None


@pytest.mark.parametrize("silent", [False, True])
def test_silent_hides_autologs_warnings(
    silent: bool, kiln_store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kiln.pytorch.autolog(log_models=False, checkpoint_monitor="missing_metric", silent=silent)
    with caplog.at_level("WARNING", logger="kiln.autolog.pytorch"):
        _fit(lightning, tmp_path)
    skipped = [r for r in caplog.records if "Checkpoint logging is skipped" in r.getMessage()]
    assert len(skipped) == (0 if silent else 3)  # one per epoch
    (run,) = _kiln_runs()
    assert "mlflow.latest_checkpoint_artifact" not in run.data.tags


def test_disable_restores_both_trainers(kiln_store: str, tmp_path: Path) -> None:
    originals = (lightning.Trainer.fit, pytorch_lightning.Trainer.fit)
    kiln.pytorch.autolog()
    assert lightning.Trainer.fit is not originals[0]
    assert pytorch_lightning.Trainer.fit is not originals[1]
    kiln.pytorch.autolog(disable=True)
    assert (lightning.Trainer.fit, pytorch_lightning.Trainer.fit) == originals
    _fit(lightning, tmp_path)
    assert _kiln_runs() == []


def test_kiln_autolog_turns_pytorch_on(
    kiln_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiln.models import autolog as integrations

    pytorch = integrations.FLAVORS["pytorch"]
    assert pytorch.library == "lightning"
    # only this flavor: the others' autolog (all of sklearn's estimators) is tested elsewhere
    monkeypatch.setattr(integrations, "FLAVORS", {"pytorch": pytorch})
    try:
        assert "pytorch" in kiln.autolog(log_models=False)
        _fit(lightning, tmp_path)
    finally:
        kiln.autolog(disable=True)
    (run,) = _kiln_runs()
    assert run.data.tags["mlflow.autologging"] == "pytorch"
    assert "train_loss" in run.data.metrics


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"extra_tags": ["a"]}, "Invalid `extra_tags` type"),
        ({"log_every_n_epoch": 0}, "must be at least 1"),
        ({"checkpoint_save_freq": "batch"}, "checkpoint_save_freq must be"),
        ({"checkpoint_mode": "best"}, "available modes includes 'min' and 'max'"),
        ({"checkpoint_monitor": None}, "you need to set 'monitor'"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        kiln.pytorch.autolog(**options)


def test_importing_kiln_pytorch_loads_no_lightning() -> None:
    code = (
        "import sys, kiln.pytorch\n"
        "kiln.pytorch.autolog\n"
        "print([m for m in ('lightning', 'pytorch_lightning', 'torch') if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
