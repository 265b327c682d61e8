"""Auth: ``log_metric`` through the official client with ``kiln server --auth`` beside
auth off, beside ``mlflow server`` and ``mlflow server --app-name basic-auth``, in one run.

Servers, each a subprocess on a free 127.0.0.1 port over SQLite in a temporary
folder, all up at the same time (started and stopped by ``bench/tracking_server.py``'s
helpers), one client (``mlflow.MlflowClient``) in this process:

- ``floor``: the null server (``tracking_server.serve_null``: answers ``{}`` at once);
- ``kiln``: ``kiln server --workers 1``, auth off;
- ``kiln token`` / ``kiln basic``: one ``kiln server --auth --workers 1`` (admin from
  ``KILN_ADMIN_PASSWORD``); a user ``bench`` with the ``member`` role in ``default``
  (created through ``/api/kiln/v1/admin``), logging with ``MLFLOW_TRACKING_TOKEN``
  (a ``kiln_pat_`` token made with ``POST /api/kiln/v1/tokens``), then with
  ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` (its password: argon2id, verified once per
  cache period);
- ``mlflow``: ``mlflow server --workers 1``;
- ``mlflow basic``: ``mlflow server --app-name basic-auth --workers 1`` as it ships
  (no credential cache: ``auth_cache_ttl_seconds = 0``), a user ``bench`` created with
  ``POST /api/2.0/mlflow/users/create``, logging to its own experiment (its creator
  may edit it) with ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``;
- ``mlflow basic cached``: the same with ``auth_cache_ttl_seconds = 60`` (an opt-in
  of MLflow 3.17); ``--skip-mlflow-cached`` leaves it out.

The client reads the ``MLFLOW_TRACKING_*`` variables on every call, so each case
sets its own before it runs. In each of ``--rounds`` rounds every case logs
``--calls`` points (``mlflow server`` and the cached basic-auth ``--mlflow-calls``,
the basic-auth one as it ships ``--mlflow-basic-calls``: they are 10-1,000x slower)
one by one on its own run, in an order that is reversed every other round so a
change in the machine's load hits all alike. Reported: the median over rounds of
calls/s, p50 latency and server CPU per call (user+system of the server's process
tree, which barely moves with other load), and the median of the per-round ratios
(auth on / auth off for Kiln, basic-auth / plain for MLflow), and Kiln with a
token or Basic against MLflow's basic-auth.

Usage::

    .venv/bin/python bench/auth.py [--rounds 5] [--calls 600] [--mlflow-calls 100]
        [--mlflow-basic-calls 20] [--flask-wtf DIR] [--skip-mlflow] [--skip-mlflow-cached]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# tracking_server sets the client's environment (no retries, no async logging) at import
from tracking_server import (
    ServerSpec,
    cpu_s,
    kiln_spec,
    mlflow_spec,
    null_spec,
    running,
)

ADMIN_PASSWORD = "bench-admin-Passw0rd-1"
USER, PASSWORD = "bench", "bench-user-Passw0rd-1"
CREDENTIAL_VARIABLES = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
)


def kiln_auth_spec(db: Path, artifacts: Path) -> ServerSpec:
    """``kiln server --auth`` (``running`` drops KILN_* from the environment: ``env`` sets it)."""
    plain = kiln_spec(db, artifacts)

    def command(port: int, folder: Path) -> list[str]:
        return [
            "env",
            f"KILN_ADMIN_PASSWORD={ADMIN_PASSWORD}",
            *plain.command(port, folder),
            "--auth",
        ]

    return ServerSpec("kiln auth", command)


def mlflow_auth_spec(
    db: Path, artifacts: Path, folder: Path, cache_s: int, pythonpath: str = ""
) -> ServerSpec:
    """``mlflow server --app-name basic-auth --workers 1`` with its config in ``folder``;
    ``pythonpath``: where Flask-WTF is when the environment lacks it (``mlflow[auth]``)."""
    plain = mlflow_spec(db, artifacts, 1)
    config = folder / f"basic_auth_{cache_s}.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{folder / f'basic_auth_{cache_s}.db'}\n"
        "admin_username = admin\n"
        f"admin_password = {ADMIN_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {cache_s}\n"
    )

    def command(port: int, folder: Path) -> list[str]:
        return [
            "env",
            f"MLFLOW_AUTH_CONFIG_PATH={config}",
            f"MLFLOW_FLASK_SERVER_SECRET_KEY={uuid.uuid4().hex}",
            *([f"PYTHONPATH={pythonpath}"] if pythonpath else []),
            *plain.command(port, folder),
            "--app-name",
            "basic-auth",
        ]

    name = "mlflow basic" + (" cached" if cache_s else "")
    return ServerSpec(name, command)


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def kiln_credentials(url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Create the member ``bench`` as the admin; answer (token env, Basic env)."""
    import httpx

    admin = basic("admin", ADMIN_PASSWORD)
    with httpx.Client(base_url=url, timeout=60) as http:
        made = http.post(
            "/api/kiln/v1/admin/users", json={"name": USER, "password": PASSWORD}, headers=admin
        )
        made.raise_for_status()
        granted = http.put(
            f"/api/kiln/v1/admin/tenants/default/members/{USER}",
            json={"role": "member"},
            headers=admin,
        )
        granted.raise_for_status()
        answer = http.post(
            "/api/kiln/v1/tokens", json={"name": "bench"}, headers=basic(USER, PASSWORD)
        )
        answer.raise_for_status()
        token: str = answer.json()["token"]
    return (
        {"MLFLOW_TRACKING_TOKEN": token},
        {"MLFLOW_TRACKING_USERNAME": USER, "MLFLOW_TRACKING_PASSWORD": PASSWORD},
    )


def mlflow_credentials(url: str) -> dict[str, str]:
    """Create the user ``bench`` on MLflow's basic-auth app; answer its Basic env."""
    import httpx

    with httpx.Client(base_url=url, timeout=60) as http:
        made = http.post(
            "/api/2.0/mlflow/users/create",
            json={"username": USER, "password": PASSWORD},
            headers=basic("admin", ADMIN_PASSWORD),
        )
        made.raise_for_status()
    return {"MLFLOW_TRACKING_USERNAME": USER, "MLFLOW_TRACKING_PASSWORD": PASSWORD}


@contextlib.contextmanager
def credentials(env: dict[str, str]) -> Any:
    """The case's MLFLOW_TRACKING_* variables, and none of the others, for as long as it runs."""
    saved = {k: os.environ.pop(k) for k in CREDENTIAL_VARIABLES if k in os.environ}
    os.environ.update(env)
    try:
        yield
    finally:
        for k in CREDENTIAL_VARIABLES:
            os.environ.pop(k, None)
        os.environ.update(saved)


@dataclass
class Case:
    name: str
    url: str
    pid: int
    env: dict[str, str]
    calls: int
    floor: bool = False
    rounds: list[dict[str, float]] = field(default_factory=list)

    def new_run(self, client: Any) -> str:
        if self.floor:
            return uuid.uuid4().hex
        with credentials(self.env):
            experiment = client.create_experiment(f"{self.name}-{uuid.uuid4().hex[:8]}")
            run_id: str = client.create_run(experiment).info.run_id
        return run_id

    def time(self, client: Any, calls: int) -> dict[str, float]:
        """``calls`` log_metric calls one by one on a new run: rate, p50, max, server CPU."""
        run_id = self.new_run(client)
        latencies = []
        with credentials(self.env):
            cpu0 = cpu_s(self.pid)
            start = time.perf_counter()
            for step in range(calls):
                t = time.perf_counter()
                client.log_metric(run_id, "loss", 1.0 / (step + 1), timestamp=1, step=step)
                latencies.append(time.perf_counter() - t)
            elapsed = time.perf_counter() - start
            cpu = cpu_s(self.pid) - cpu0
        return {
            "calls_per_s": calls / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "max_ms": max(latencies) * 1000,
            "cpu_ms": cpu * 1000 / calls,
        }


def median(case: Case, key: str) -> float:
    return statistics.median(r[key] for r in case.rounds)


def ratio(a: Case, b: Case) -> float:
    """Median over rounds of a's calls/s over b's (paired rounds)."""
    return statistics.median(
        x["calls_per_s"] / y["calls_per_s"] for x, y in zip(a.rounds, b.rounds, strict=True)
    )


def report(cases: dict[str, Case], rounds: int) -> str:
    lines = [
        f"log_metric through mlflow.MlflowClient, one client, medians of {rounds} alternating "
        "rounds (all servers up at once, SQLite, --workers 1)",
        f"{'case':<22}{'calls':>7}{'calls/s':>10}{'p50 ms':>9}{'max ms':>9}{'CPU ms/call':>13}",
    ]
    for case in cases.values():
        lines.append(
            f"{case.name:<22}{case.calls:>7}{median(case, 'calls_per_s'):>10,.1f}"
            f"{median(case, 'p50_ms'):>9.2f}{median(case, 'max_ms'):>9.1f}"
            f"{median(case, 'cpu_ms'):>13.2f}"
        )
    pairs = [
        ("kiln token / kiln (auth off)", "kiln token", "kiln"),
        ("kiln basic / kiln (auth off)", "kiln basic", "kiln"),
        ("kiln / floor", "kiln", "floor"),
        ("kiln token / floor", "kiln token", "floor"),
        ("mlflow basic / mlflow", "mlflow basic", "mlflow"),
        ("mlflow basic cached / mlflow", "mlflow basic cached", "mlflow"),
        ("kiln token / mlflow basic", "kiln token", "mlflow basic"),
        ("kiln basic / mlflow basic", "kiln basic", "mlflow basic"),
        ("kiln basic / mlflow basic cached", "kiln basic", "mlflow basic cached"),
        ("kiln / mlflow", "kiln", "mlflow"),
    ]
    lines.append("ratios of calls/s (median of the per-round ratios):")
    for label, a, b in pairs:
        if a in cases and b in cases:
            lines.append(f"  {label:<36}{ratio(cases[a], cases[b]):>8.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--mlflow-calls", type=int, default=100)
    parser.add_argument("--mlflow-basic-calls", type=int, default=20)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-mlflow-cached", action="store_true")
    parser.add_argument(
        "--flask-wtf",
        default="",
        help="a folder holding Flask-WTF and WTForms for MLflow's basic-auth app when this "
        "environment lacks them (pip install --no-deps --target DIR flask-wtf wtforms)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if (
        not args.skip_mlflow
        and not args.flask_wtf
        and importlib.util.find_spec("flask_wtf") is None
    ):
        parser.error(
            "mlflow server --app-name basic-auth needs Flask-WTF (mlflow[auth]): "
            "pip install --no-deps --target DIR flask-wtf wtforms, then --flask-wtf DIR"
        )

    from mlflow.tracking import MlflowClient

    with (
        tempfile.TemporaryDirectory(prefix="kiln-bench-auth-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        root = Path(tmp)

        def up(spec: ServerSpec, name: str) -> tuple[str, int]:
            folder = root / name.replace(" ", "-")
            folder.mkdir()
            url, process, ready_s = stack.enter_context(running(spec, folder))
            print(f"{spec.name}: ready in {ready_s:.1f} s at {url}", flush=True)
            return url, process.pid

        def spec_for(name: str) -> ServerSpec:
            folder = root / name.replace(" ", "-")
            db, artifacts = folder / "store.db", folder / "artifacts"
            if name == "floor":
                return null_spec()
            if name == "kiln":
                return kiln_spec(db, artifacts)
            if name == "kiln auth":
                return kiln_auth_spec(db, artifacts)
            if name == "mlflow":
                return mlflow_spec(db, artifacts, 1)
            cache_s = 60 if name.endswith("cached") else 0
            return mlflow_auth_spec(db, artifacts, root, cache_s, args.flask_wtf)

        cases: dict[str, Case] = {}
        url, pid = up(spec_for("floor"), "floor")
        cases["floor"] = Case("floor", url, pid, {}, args.calls, floor=True)
        url, pid = up(spec_for("kiln"), "kiln")
        cases["kiln"] = Case("kiln", url, pid, {}, args.calls)
        url, pid = up(spec_for("kiln auth"), "kiln auth")
        token_env, basic_env = kiln_credentials(url)
        cases["kiln token"] = Case("kiln token", url, pid, token_env, args.calls)
        cases["kiln basic"] = Case("kiln basic", url, pid, basic_env, args.calls)
        if not args.skip_mlflow:
            url, pid = up(spec_for("mlflow"), "mlflow")
            cases["mlflow"] = Case("mlflow", url, pid, {}, args.mlflow_calls)
            names = ["mlflow basic"] + ([] if args.skip_mlflow_cached else ["mlflow basic cached"])
            for name in names:
                url, pid = up(spec_for(name), name)
                calls = args.mlflow_calls if name.endswith("cached") else args.mlflow_basic_calls
                cases[name] = Case(name, url, pid, mlflow_credentials(url), calls)
        clients = {name: MlflowClient(case.url) for name, case in cases.items()}
        for name, case in cases.items():  # warm-up: imports, connections, the first verification
            case.time(clients[name], 20)
        order = list(cases)
        for r in range(args.rounds):
            for name in order if r % 2 == 0 else reversed(order):
                cases[name].rounds.append(cases[name].time(clients[name], cases[name].calls))
            print(
                f"  round {r + 1}: "
                + ", ".join(f"{n} {c.rounds[-1]['calls_per_s']:,.0f}/s" for n, c in cases.items()),
                flush=True,
            )
    print(report(cases, args.rounds))
    print(f"load average: {os.getloadavg()}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {name: {"calls": c.calls, "rounds": c.rounds} for name, c in cases.items()},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
