"""Projects: ``kiln run`` beside ``mlflow run`` and the command run directly.

One small project (``train.py`` logs 3 params and 5 metrics into a run; an
``MLproject`` with ``python_env: python_env.yaml`` and one entry point), in two
copies that differ only in what their environment needs to track: the Kiln copy
lists nothing (``kiln run`` adds the Kiln client itself), the MLflow copy lists
``mlflow-skinny`` (the installed version) with ``sqlalchemy`` and ``alembic`` for
its sqlite store. Each measure is a whole command, wall clock and the CPU time
(user + system) of the command and all its children (``RUSAGE_CHILDREN``):

1. ``python train.py`` directly, tracking with ``import kiln`` / ``import mlflow``;
2. ``kiln run --env-manager local`` and ``mlflow run --env-manager local``;
3. ``kiln run --env-manager uv`` with its environment cached, and cold (a fresh
   ``KILN_HOME`` per trial, so the environment is built; uv's package cache stays
   warm, as on a developer's machine);
4. ``mlflow run --env-manager uv`` cached and cold (fresh ``MLFLOW_ENV_ROOT``);
   ``--mlflow-virtualenv`` adds MLflow's pyenv + virtualenv + pip manager (slow).

Every store is a sqlite file in a temporary folder, created (and migrated) by an
untimed warm-up run; cached-environment measures also get an untimed warm-up
that builds the environment. The table shows the median of ``--trials`` (cold
measures: ``--cold-trials``) and ratios against the direct run and against the
same measure for MLflow. ``--profile`` adds where ``kiln run --env-manager uv``
(cached) spends its own time: cProfile of the CLI in-process, by phase.

Wall times need a quiet machine: with other jobs on the CPU they move by
seconds; the CPU column is nearly independent of load.

    .venv/bin/python bench/projects.py [--trials 5] [--cold-trials 2] [--profile] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

BIN = Path(sys.executable).parent
TRAIN = """\
import sys

if sys.argv[1:] == ["mlflow"]:
    import mlflow as lib
else:
    import kiln as lib

with lib.start_run():
    lib.log_params({"alpha": 0.5, "l1_ratio": 0.1, "seed": 42})
    for step in range(5):
        lib.log_metric(f"metric_{step}", step * 0.1)
"""
MLPROJECT = """\
name: bench
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      lib: {type: string, default: kiln}
    command: "python train.py {lib}"
"""


@dataclass
class Measure:
    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def wall_p50(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_p50(self) -> float:
        return statistics.median(self.cpu)


def write_projects(folder: Path) -> tuple[Path, Path]:
    """The Kiln copy and the MLflow copy of the project."""
    mlflow_version = metadata.version("mlflow")
    python = "{}.{}".format(*sys.version_info[:2])
    copies = {
        "kiln": "dependencies: []\n",
        "mlflow": (
            f"dependencies:\n  - mlflow-skinny=={mlflow_version}\n  - sqlalchemy\n  - alembic\n"
        ),
    }
    out = []
    for name, deps in copies.items():
        project = folder / f"project-{name}"
        project.mkdir(parents=True)
        (project / "train.py").write_text(TRAIN, encoding="utf-8")
        (project / "MLproject").write_text(MLPROJECT, encoding="utf-8")
        (project / "python_env.yaml").write_text(f'python: "{python}"\n{deps}', encoding="utf-8")
        out.append(project)
    return out[0], out[1]


def timed(command: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[float, float]:
    """Run ``command``; return its wall seconds and its (and its children's) CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        list(command), env=dict(env), cwd=cwd, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def base_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "MLFLOW_", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', os.defpath)}"  # uv for mlflow's manager
    env["KILN_HOME"] = str(tmp / "kiln-home")
    env["MLFLOW_ENV_ROOT"] = str(tmp / "mlflow-envs")
    return env


def tool_env(env: Mapping[str, str], tmp: Path, label: str) -> dict[str, str]:
    """MLflow's tracking URI only for MLflow's commands: Kiln would read it as its own."""
    out = dict(env)
    if "mlflow" in label:
        out["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    return out


def run_benchmark(args: argparse.Namespace, tmp: Path) -> list[Measure]:
    kiln_project, mlflow_project = write_projects(tmp)
    base = base_env(tmp)
    kiln_cli, mlflow_cli = str(BIN / "kiln"), str(BIN / "mlflow")
    python = sys.executable
    scenarios: list[tuple[str, list[str], Path, bool]] = [
        # label, command, cwd, cold (a fresh environment cache per trial)
        ("python train.py (import kiln)", [python, "train.py", "kiln"], kiln_project, False),
        ("python train.py (import mlflow)", [python, "train.py", "mlflow"], mlflow_project, False),
        ("kiln run --env-manager local", [kiln_cli, "run", ".", "--env-manager", "local"],
         kiln_project, False),
        ("mlflow run --env-manager local",
         [mlflow_cli, "run", ".", "--env-manager", "local", "-P", "lib=mlflow"],
         mlflow_project, False),
        ("kiln run --env-manager uv (cached)", [kiln_cli, "run", ".", "--env-manager", "uv"],
         kiln_project, False),
        ("mlflow run --env-manager uv (cached)",
         [mlflow_cli, "run", ".", "--env-manager", "uv", "-P", "lib=mlflow"],
         mlflow_project, False),
        ("kiln run --env-manager uv (cold)", [kiln_cli, "run", ".", "--env-manager", "uv"],
         kiln_project, True),
        ("mlflow run --env-manager uv (cold)",
         [mlflow_cli, "run", ".", "--env-manager", "uv", "-P", "lib=mlflow"],
         mlflow_project, True),
    ]  # fmt: skip
    if args.mlflow_virtualenv:
        command = [mlflow_cli, "run", ".", "--env-manager", "virtualenv", "-P", "lib=mlflow"]
        scenarios.append(("mlflow run --env-manager virtualenv (cached)", command,
                          mlflow_project, False))  # fmt: skip
        scenarios.append(("mlflow run --env-manager virtualenv (cold)", command,
                          mlflow_project, True))  # fmt: skip
    measures: list[Measure] = []
    for label, command, cwd, cold in scenarios:
        measure = Measure(label)
        env = tool_env(base, tmp, label)
        timed(command, env, cwd)  # warm-up: stores created, environment built (untimed)
        for trial in range(args.cold_trials if cold else args.trials):
            trial_env = dict(env)
            if cold:
                fresh = tmp / f"cold-{len(measures)}-{trial}"
                trial_env["KILN_HOME"] = str(fresh / "kiln-home")
                trial_env["KILN_TRACKING_URI"] = f"sqlite:///{tmp / 'kiln-home' / 'kiln.db'}"
                trial_env["MLFLOW_ENV_ROOT"] = str(fresh / "mlflow-envs")
            wall, cpu = timed(command, trial_env, cwd)
            measure.wall.append(wall)
            measure.cpu.append(cpu)
            if cold:
                shutil.rmtree(tmp / f"cold-{len(measures)}-{trial}", ignore_errors=True)
        measures.append(measure)
        print(f"  {label}: wall {measure.wall_p50:.2f} s, cpu {measure.cpu_p50:.2f} s", flush=True)
    return measures


def table(measures: list[Measure]) -> str:
    by_label = {m.label: m for m in measures}
    direct = {
        "kiln": by_label["python train.py (import kiln)"],
        "mlflow": by_label["python train.py (import mlflow)"],
    }
    lines = [
        f"{'measure':<46} {'wall p50':>9} {'cpu p50':>8} {'vs direct':>10} {'vs mlflow':>10}",
        "-" * 87,
    ]
    for m in measures:
        tool = "mlflow" if "mlflow" in m.label else "kiln"
        over = f"{m.wall_p50 / direct[tool].wall_p50:.2f}x" if m is not direct[tool] else ""
        twin = by_label.get(m.label.replace("kiln", "mlflow")) if tool == "kiln" else None
        versus = f"{twin.wall_p50 / m.wall_p50:.1f}x" if twin is not None else ""
        lines.append(
            f"{m.label:<46} {m.wall_p50:>8.2f}s {m.cpu_p50:>7.2f}s {over:>10} {versus:>10}"
        )
    lines.append("(vs direct: wall time over the same script run directly with the same library;")
    lines.append(" vs mlflow: how many times faster kiln is than the same mlflow measure)")
    return "\n".join(lines)


PROFILE_PHASES = {
    "CLI import (click group, lazy command)": ("kiln/cli/main.py", "<module>"),
    "read MLproject (load_project)": ("kiln/projects/spec.py", "load_project"),
    "prepare environment (cache hit)": ("kiln/projects/envs.py", "prepare_environment"),
    "open store (KilnClient.from_uri)": ("kiln/tracking/client.py", "from_uri"),
    "create run": ("kiln/tracking/client.py", "create_run"),
    "record: lock + diff + params": ("kiln/projects/runner.py", "_record"),
    "environment lock": ("kiln/projects/envs.py", "environment_lock"),
    "run the command (child process)": ("kiln/projects/runner.py", "_execute"),
}


def profile(tmp: Path, kiln_project: Path) -> dict[str, float]:
    """Cumulative seconds of each phase of one cached ``kiln run`` (cProfile, in a subprocess)."""
    env = base_env(tmp)
    command = [str(BIN / "kiln"), "run", ".", "--env-manager", "uv"]
    timed(command, env, kiln_project)  # environment built, store migrated
    out = tmp / "kiln-run.prof"
    script = (
        "import cProfile, sys\n"
        "sys.argv = ['kiln', 'run', '.', '--env-manager', 'uv']\n"
        "def main():\n"
        "    from kiln.cli.main import main as cli\n"
        "    try:\n"
        "        cli()\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"cProfile.run('main()', {str(out)!r})\n"
    )
    timed([sys.executable, "-c", script], env, kiln_project)
    import pstats

    stats = pstats.Stats(str(out))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    total = max(value[3] for value in raw.values())
    phases = {"total (in-process)": total}
    for label, (path, name) in PROFILE_PHASES.items():
        phases[label] = sum(
            value[3]
            for (file, _, func), value in raw.items()
            if file.endswith(path) and func == name
        )
    return phases


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--cold-trials", type=int, default=2)
    parser.add_argument("--mlflow-virtualenv", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="kiln-bench-projects-") as name:
        tmp = Path(name)
        measures = run_benchmark(args, tmp)
        print()
        print(table(measures))
        phases: dict[str, float] = {}
        if args.profile:
            phases = profile(tmp, tmp / "project-kiln")
            print("\nkiln run --env-manager uv (cached), cProfile cumulative seconds by phase:")
            for label, seconds in phases.items():
                print(f"  {label:<42} {seconds:>7.3f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json is not None:
        payload = {
            "measures": [{"label": m.label, "wall": m.wall, "cpu": m.cpu} for m in measures],
            "profile": phases,
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
