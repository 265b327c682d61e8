"""examples/mlflow_style/: each MLflow-style script runs three ways and logs the same names.

Each script is run as a real subprocess (1) by the real mlflow (the script with ``kiln``
replaced by ``mlflow`` in its import lines) against a SQLite database, (2) with
``import kiln as mlflow`` on Kiln's embedded default store (``KILN_HOME``), and (3) with
``import kiln as mlflow`` against one ``kiln server`` shared by the module. The three
modes of every script run concurrently in one module fixture. Then, run by run, the
names of params, metrics, tags, artifacts, logged models, the files inside each model and
the registered model names must be the same; every model loads with mlflow.pyfunc and
kiln.pyfunc and predicts the same values (the training is seeded).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import kiln
from kiln.store.open import open_logged_model_store
from kiln.testing.server_process import kiln_server_process
from kiln.tracking import fluent

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "examples" / "mlflow_style"
SCRIPTS = sorted(path.stem for path in SCRIPTS_DIR.glob("*.py"))
MODES = ("mlflow", "embedded", "server")

# Tags whose presence legitimately differs between mlflow and Kiln (none today).
IGNORED_TAGS: dict[str, str] = {}

# Files inside a model folder that legitimately differ.
IGNORED_MODEL_FILES: dict[str, str] = {
    "model.pkl": "Kiln's sklearn flavor writes cloudpickle by default (skops is optional)",
    "model.skops": "MLflow 3's sklearn flavor writes skops by default outside Databricks",
    "registered_model_meta": "MLflow notes the registered name and version inside the model "
    "when log_model(registered_model_name=...) registers it; Kiln keeps them in the registry",
}

# Rows each script's models predict on, in the form the script trained them on.
_WINE = lambda: datasets.load_wine(as_frame=True).data.head(8)  # noqa: E731
_DIABETES = lambda: datasets.load_diabetes().data[:8]  # noqa: E731
_IRIS = lambda: datasets.load_iris().data[::20]  # noqa: E731
INPUTS: dict[str, Callable[[], Any]] = {
    "sklearn_elasticnet_wine": _WINE,
    "sklearn_logistic_regression": lambda: datasets.load_breast_cancer().data[:8],
    "sklearn_autolog_linear": _DIABETES,
    "sklearn_autolog_pipeline": _DIABETES,
    "sklearn_autolog_grid_search": _IRIS,
    "xgboost_native": _IRIS,
    "xgboost_sklearn": lambda: datasets.load_diabetes(as_frame=True).data.head(8),
    "lightgbm_native": lambda: datasets.load_iris(as_frame=True).data.iloc[::20],
    "pyfunc_with_artifacts": lambda: datasets.load_iris(as_frame=True).data.iloc[::20],
    "evaluate_regressor": _DIABETES,
    "evaluate_classifier": lambda: datasets.load_breast_cancer(as_frame=True).data.head(8),
    "logged_model_demo": lambda: datasets.load_diabetes(as_frame=True).data.head(8),
}
SCRIPT_TIMEOUT_S = 240


@dataclass(frozen=True)
class Job:
    """One script to run in one mode: its folder, environment and tracking URI."""

    script: str
    folder: Path
    env: dict[str, str]
    uri: str


@dataclass(frozen=True)
class Outcome:
    """One script run in one mode: where its data went and how the process ended."""

    tracking_uri: str
    returncode: int
    output: str
    seconds: float


def mlflow_text(text: str) -> str:
    """The script as written for MLflow: ``kiln`` becomes ``mlflow`` in its import lines."""
    lines = [
        re.sub(r"\bkiln\b", "mlflow", line) if line.startswith(("import ", "from ")) else line
        for line in text.splitlines()
    ]
    return "\n".join(lines) + "\n"


def _clean_env(root: Path, experiment: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KILN_"))}
    env.update(KILN_HOME=str(root / "home"), MLFLOW_EXPERIMENT_NAME=experiment, MPLBACKEND="Agg")
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # mlflow's usage events: no network here
    return env


def _prepare(
    script: str, mode: str, root: Path, server_url: str, template: Path | None = None
) -> Job:
    """Copy the script into its own folder (so no mode runs inside the git checkout)."""
    folder = root / mode / script
    folder.mkdir(parents=True)
    env = _clean_env(folder, script)
    text = (SCRIPTS_DIR / f"{script}.py").read_text()
    if mode == "mlflow":
        assert template is not None
        text = mlflow_text(text)
        shutil.copy(template, folder / "mlflow.db")
        uri = env["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
        # mlflow infers a model's requirements in a subprocess that loads the model
        # (seconds per model); 0 falls back to its defaults. requirements.txt's content
        # is not compared.
        env["MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT"] = "0"
    elif mode == "server":
        uri = env["MLFLOW_TRACKING_URI"] = server_url
    else:
        uri = f"sqlite:///{folder / 'home' / 'kiln.db'}"
    (folder / f"{script}.py").write_text(text)
    return Job(script, folder, env, uri)


def _run_kiln(job: Job) -> Outcome:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, f"{job.script}.py"],
        cwd=job.folder,
        env=job.env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    output = f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    return Outcome(job.uri, done.returncode, output, time.monotonic() - started)


# Runs the mlflow scripts: imports mlflow and the libraries once, then forks one child
# per script (two at a time) that runs it as __main__ in its folder with its environment
# and exits through the interpreter's normal exit (mlflow's atexit hooks end its runs).
# Importing mlflow costs seconds of CPU per process; CI has two cores.
FORKING_LAUNCHER = r"""
import json, os, runpy, sys, time, traceback
import lightgbm, matplotlib, pandas, skops.io, sklearn.linear_model, sklearn.model_selection
import sklearn.pipeline, sklearn.svm, sklearn.tree, xgboost
import mlflow, mlflow.lightgbm, mlflow.models, mlflow.pyfunc, mlflow.sklearn, mlflow.xgboost
jobs, width, results, running = json.load(open(sys.argv[1])), int(sys.argv[2]), {}, {}
def reap():
    pid, status = os.wait()
    name, started = running.pop(pid)
    results[name] = [os.waitstatus_to_exitcode(status), time.monotonic() - started]
for job in jobs:
    if len(running) >= width:
        reap()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.chdir(job["folder"])
        os.environ.clear()
        os.environ.update(job["env"])
        for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
            os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.argv, sys.path[0] = [job["script"]], job["folder"]
        code = 0
        try:
            runpy.run_path(job["script"], run_name="__main__")
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.exit(code)
    running[pid] = (job["name"], started)
while running:
    reap()
json.dump(results, open(sys.argv[3], "w"))
"""


def _run_mlflow(jobs: list[Job], root: Path) -> dict[str, Outcome]:
    """Every mlflow script, through FORKING_LAUNCHER."""
    listing = [
        {"name": j.script, "folder": str(j.folder), "env": j.env, "script": f"{j.script}.py"}
        for j in jobs
    ]
    (root / "jobs.json").write_text(json.dumps(listing))
    done = subprocess.run(
        [sys.executable, "-c", FORKING_LAUNCHER, "jobs.json", "2", "results.json"],
        cwd=root,
        env=_clean_env(root, "Default"),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S * len(jobs),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((root / "results.json").read_text())
    outcomes = {}
    for job in jobs:
        returncode, seconds = results[job.script]
        output = "".join(
            f"--- {name}\n{(job.folder / f'{name}.txt').read_text()[-4000:]}\n"
            for name in ("stdout", "stderr")
        )
        outcomes[job.script] = Outcome(job.uri, returncode, output, seconds)
    return outcomes


def _mlflow_template(root: Path) -> Path:
    """An empty mlflow database, migrated once and copied for each script."""
    path = root / "template.db"
    code = "import mlflow,sys; mlflow.MlflowClient(sys.argv[1]).search_experiments()"
    env = _clean_env(root, "Default")
    subprocess.run([sys.executable, "-c", code, f"sqlite:///{path}"], env=env, check=True)
    return path


def _selected_scripts(request: pytest.FixtureRequest) -> set[str]:
    """The scripts whose tests this session runs (``-k`` runs only those scripts)."""
    return {
        item.callspec.params["script"]
        for item in request.session.items
        if item.module is sys.modules[__name__] and hasattr(item, "callspec")
    }


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, str], Outcome]]:
    root = tmp_path_factory.mktemp("mlflow_style")
    scripts = sorted(_selected_scripts(request))
    (root / "server").mkdir()
    with ThreadPoolExecutor(max_workers=4) as pool:
        template = pool.submit(_mlflow_template, root)
        with kiln_server_process(root / "server") as url:
            runs = root / "runs"

            def mlflow_batch() -> dict[str, Outcome]:
                ready = template.result()
                jobs = [_prepare(script, "mlflow", runs, url, ready) for script in scripts]
                return _run_mlflow(jobs, runs / "mlflow")

            mlflow_jobs = pool.submit(mlflow_batch)  # the longest: first
            kiln_jobs = {
                (script, mode): pool.submit(_run_kiln, _prepare(script, mode, runs, url))
                for script in scripts
                for mode in MODES[1:]
            }
            found = {key: job.result() for key, job in kiln_jobs.items()}
            found.update({(s, "mlflow"): o for s, o in mlflow_jobs.result().items()})
            yield found


# what one run logged -----------------------------------------------------------------
@dataclass
class RunSummary:
    """The names one run logged; ``models`` maps a logged model's name to its URI."""

    run_id: str
    params: set[str]
    metrics: set[str]
    tags: set[str]
    artifacts: set[str]
    registered: set[str]
    models: dict[str, str] = field(default_factory=dict)
    children: list[RunSummary] = field(default_factory=list)

    def names(self) -> dict[str, Any]:
        return {
            "params": sorted(self.params),
            "metrics": sorted(self.metrics),
            "tags": sorted(self.tags - set(IGNORED_TAGS)),
            "artifacts": sorted(self.artifacts),
            "registered models": sorted(self.registered),
            "logged models": sorted(self.models),
            "children": sorted(str(child.names()) for child in self.children),
        }


def _files(client: Any, run_id: str, path: str | None = None) -> Iterator[str]:
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            yield from _files(client, run_id, info.path)
        else:
            yield info.path


def _model_dirs(paths: set[str]) -> set[str]:
    return {path.rsplit("/", 1)[0] for path in paths if path.endswith("/MLmodel")}


def summarize(
    client: Any, experiment: str, logged_models: Callable[[str], list[Any]]
) -> list[RunSummary]:
    """Every run of ``experiment`` read through an MlflowClient (mlflow's or Kiln's, which
    share the API): top-level runs by start time, each with its child runs."""
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = sorted(
        client.search_runs([experiment_id], max_results=1000),
        key=lambda run: (run.info.start_time, run.info.run_name),
    )
    models: dict[str, dict[str, str]] = {}
    for model in logged_models(experiment_id):
        models.setdefault(model.source_run_id, {})[model.name] = f"models:/{model.model_id}"
    summaries: dict[str, RunSummary] = {}
    for run in runs:
        run_id = run.info.run_id
        artifacts = set(_files(client, run_id))
        # A model kept among the run's artifacts (MLflow 2's layout) counts as a logged
        # model; its files are compared with the model's, not with the run's.
        run_models = models.get(run_id, {}) or {
            d: f"runs:/{run_id}/{d}" for d in _model_dirs(artifacts)
        }
        artifacts = {p for p in artifacts if not any(p.startswith(f"{d}/") for d in run_models)}
        versions = client.search_model_versions(f"run_id = '{run_id}'")
        summaries[run_id] = RunSummary(
            run_id=run_id,
            params=set(run.data.params),
            metrics=set(run.data.metrics),
            tags=set(run.data.tags),
            artifacts=artifacts,
            registered={version.name for version in versions},
            models=run_models,
        )
    top: list[RunSummary] = []
    for run in runs:
        parent = run.data.tags.get("mlflow.parentRunId")
        (summaries[parent].children if parent in summaries else top).append(
            summaries[run.info.run_id]
        )
    return top


def _mlflow_summary(outcome: Outcome, experiment: str) -> list[RunSummary]:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=outcome.tracking_uri)
    return summarize(
        client, experiment, lambda eid: list(client.search_logged_models(experiment_ids=[eid]))
    )


def _kiln_summary(outcome: Outcome, experiment: str) -> list[RunSummary]:
    client = kiln.MlflowClient(tracking_uri=outcome.tracking_uri)
    store = open_logged_model_store(outcome.tracking_uri, workspace="default")
    try:
        return summarize(
            client, experiment, lambda eid: store.search_logged_models([eid]).to_list()
        )
    finally:
        client.close()
        getattr(store, "close", lambda: None)()  # a REST store's connections


# the models --------------------------------------------------------------------------
def _predictions(model: Any, rows: Any) -> np.ndarray[Any, Any]:
    result = model.predict(rows)
    if isinstance(result, pd.DataFrame | pd.Series):
        result = result.to_numpy()
    return np.asarray(result)


def assert_same_predictions(actual: np.ndarray[Any, Any], expected: np.ndarray[Any, Any]) -> None:
    if expected.dtype.kind in "fiub":
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-8)
    else:
        np.testing.assert_array_equal(actual, expected)


def _model_files(folder: str) -> set[str]:
    root = Path(folder)
    names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return names - set(IGNORED_MODEL_FILES)


def check_models(
    script: str, reference: RunSummary, candidate: RunSummary, uris: tuple[str, str], tmp: Path
) -> None:
    """Each model of ``candidate`` (Kiln) holds the files and predicts what the same model
    of ``reference`` (mlflow) does; mlflow.pyfunc also loads Kiln's copy."""
    import mlflow

    for name, mlflow_uri in sorted(reference.models.items()):
        kiln_uri = candidate.models[name]
        rows = INPUTS[script]()
        mlflow.set_tracking_uri(uris[0])
        mlflow_dir = mlflow.artifacts.download_artifacts(mlflow_uri, dst_path=str(tmp / "m"))
        expected = _predictions(mlflow.pyfunc.load_model(mlflow_uri), rows)
        kiln.set_tracking_uri(uris[1])
        kiln_dir = kiln.artifacts.download_artifacts(kiln_uri, dst_path=str(tmp / "k"))
        assert _model_files(kiln_dir) == _model_files(mlflow_dir), name
        assert_same_predictions(_predictions(kiln.pyfunc.load_model(kiln_uri), rows), expected)
        assert_same_predictions(_predictions(mlflow.pyfunc.load_model(kiln_dir), rows), expected)
        shutil.rmtree(tmp / "m")
        shutil.rmtree(tmp / "k")


@pytest.fixture
def fresh_fluent() -> Iterator[None]:
    fluent.reset_state()
    yield
    fluent.reset_state()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", MODES[1:])
@pytest.mark.parametrize("script", SCRIPTS)
def test_script_logs_what_mlflow_logs(
    script: str,
    mode: str,
    outcomes: dict[tuple[str, str], Outcome],
    tmp_path: Path,
    fresh_fluent: None,
) -> None:
    reference, candidate = outcomes[(script, "mlflow")], outcomes[(script, mode)]
    assert reference.returncode == 0, f"the real mlflow failed:\n{reference.output}"
    assert candidate.returncode == 0, f"kiln ({mode}) failed:\n{candidate.output}"

    expected = _mlflow_summary(reference, script)
    actual = _kiln_summary(candidate, script)
    assert expected, "the script logged no run"
    assert len(actual) == len(expected), (actual, expected)
    differences = [
        f"run {index} {kind}: only mlflow {sorted(set(want) - set(got))}, "
        f"only kiln {sorted(set(got) - set(want))}"
        for index, (mlflow_run, kiln_run) in enumerate(zip(expected, actual, strict=True))
        for (kind, want), got in zip(
            mlflow_run.names().items(), kiln_run.names().values(), strict=True
        )
        if want != got
    ]
    assert not differences, "\n".join(differences)
    for want, got in zip(expected, actual, strict=True):
        check_models(script, want, got, (reference.tracking_uri, candidate.tracking_uri), tmp_path)


def test_every_script_is_in_the_readme_and_has_inputs_for_its_models() -> None:
    readme = (SCRIPTS_DIR / "README.md").read_text()
    missing = [script for script in SCRIPTS if f"`{script}.py`" not in readme]
    assert not missing, f"README.md does not describe {missing}"
    assert len(SCRIPTS) >= 14
