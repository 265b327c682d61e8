"""``kiln models predict`` / ``serve``: atomic output, one-line errors, no leftover downloads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from sklearn.linear_model import LinearRegression

import kiln
from kiln.testing.server_process import free_port, kiln_server_process
from kiln.tracking import fluent

Invoke = Callable[..., Result]
KILN = [sys.executable, "-c", "from kiln.cli.main import main; main()"]


def _log_model(tracking_uri: str) -> str:
    """Log a two-column LinearRegression as ``model`` in a new run; its run id."""
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    fitted = LinearRegression().fit(frame, frame["a"] + 2 * frame["b"])
    fluent.set_tracking_uri(tracking_uri)
    try:
        with kiln.start_run() as run:
            kiln.sklearn.log_model(fitted, "model")
        return run.info.run_id
    finally:
        fluent.reset_state()


@pytest.fixture
def run_id(store_uri: str, kiln_cli: Invoke) -> str:
    found = _log_model(store_uri)
    assert kiln_cli("models", "register", f"runs:/{found}/model", "wine").exit_code == 0
    return found


@pytest.fixture
def downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder ``tempfile`` (and so ``kiln-model-*``) uses, for this test alone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def _one_line_error(result: Result, *fragments: str) -> str:
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["Error", "Hint"], result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[1]


@pytest.mark.parametrize(
    "body", ['a,b\n1,2\n3\n"x', "a,b\nx,y\n"], ids=["malformed", "not-numbers"]
)
def test_failed_predict_keeps_the_old_output_and_leaves_nothing(
    kiln_cli: Invoke, run_id: str, tmp_path: Path, body: str
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(body)
    out = tmp_path / "out"
    out.mkdir()
    kept = out / "preds.csv"
    kept.write_text("earlier predictions\n")
    result = kiln_cli(
        "models", "predict", "-m", f"runs:/{run_id}/model", "-i", str(source), "-o", str(kept)
    )
    _one_line_error(result, "bad.csv")
    assert result.exit_code == 2
    assert kept.read_text() == "earlier predictions\n"
    fresh = out / "new.csv"
    result = kiln_cli(
        "models", "predict", "-m", f"runs:/{run_id}/model", "-i", str(source), "-o", str(fresh)
    )
    assert result.exit_code == 2
    assert sorted(p.name for p in out.iterdir()) == ["preds.csv"]  # no output, no temp file


def test_predict_replaces_the_output_on_success(
    kiln_cli: Invoke, run_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "good.csv"
    source.write_text("a,b\n1,1\n2,0\n")
    target = tmp_path / "preds.csv"
    target.write_text("old\n")
    result = kiln_cli(
        "models", "predict", "-m", "models:/wine/1", "-i", str(source), "-o", str(target)
    )
    assert result.exit_code == 0, result.output
    assert np.allclose(pd.read_csv(target)["prediction"], [3.0, 2.0])
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".preds")) == []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_unknown_alias_and_unknown_version_fail_alike(
    kiln_cli: Invoke, run_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,1\n")
    hints = set()
    codes = set()
    for uri in ("models:/wine@nope", "models:/wine/9", "models:/missing/1"):
        result = kiln_cli(
            "models", "predict", "-m", uri, "-i", str(source), "-o", str(tmp_path / "o.csv")
        )
        hints.add(_one_line_error(result))
        codes.add(result.exit_code)
    assert codes == {3}
    (hint,) = hints
    assert "kiln models list" in hint
    assert "kiln experiments list" not in hint


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_serve_on_a_busy_port_is_one_line_before_serving(
    kiln_cli: Invoke, run_id: str, busy_port: int
) -> None:
    result = kiln_cli("models", "serve", "-m", f"runs:/{run_id}/model", "-p", str(busy_port))
    _one_line_error(result, f"port {busy_port}", "already in use")
    assert "Serving" not in result.output


def test_serve_refuses_an_empty_token_file(kiln_cli: Invoke, run_id: str, tmp_path: Path) -> None:
    empty = tmp_path / "token.txt"
    empty.write_text(" \n")
    result = kiln_cli(
        "models",
        "serve",
        "-m",
        f"runs:/{run_id}/model",
        "-p",
        str(free_port()),
        "--auth-token-file",
        str(empty),
    )
    _one_line_error(result, "token.txt is empty")


def test_postgres_without_psycopg_names_the_extra(
    kiln_cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what a plain install has
    result = kiln_cli("runs", "list", uri="postgresql://kiln@127.0.0.1:1/nodriver")
    _one_line_error(result, "pip install 'kiln-mlops[postgres]'")


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real ``kiln server`` with a logged model: (its URL, the run id)."""
    root = tmp_path / "server"
    root.mkdir()
    with kiln_server_process(root) as url:
        yield url, _log_model(url)


def test_predict_from_a_server_removes_its_download(
    kiln_cli: Invoke, remote: tuple[str, str], downloads: Path, tmp_path: Path
) -> None:
    url, run = remote
    source = tmp_path / "in.csv"
    source.write_text("a,b\n1,1\n")
    result = kiln_cli(
        "models",
        "predict",
        "-m",
        f"runs:/{run}/model",
        "-i",
        str(source),
        "-o",
        str(tmp_path / "o.csv"),
        uri=url,
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.csv").exists()
    assert list(downloads.iterdir()) == []


def _wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)  # polling another process's state, not ordering this test


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_serve_from_a_server_removes_its_download_when_it_exits(
    remote: tuple[str, str], downloads: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    url, run = remote
    port = free_port()
    argv = [
        *KILN,
        "--tracking-uri",
        url,
        "models",
        "serve",
        "-m",
        f"runs:/{run}/model",
        "-p",
        str(port),
    ]
    env = {**os.environ, "TMPDIR": str(downloads)}
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _answers(port) or server.poll() is not None)
        assert server.poll() is None, log.read_text()
        (folder,) = downloads.iterdir()
        assert folder.name.startswith("kiln-model-")
        assert (folder / "model" / "MLmodel").is_file()
    finally:
        server.send_signal(stop)
        server.wait(timeout=30)
    _wait_for(lambda: not any(downloads.iterdir()), timeout_s=15)


def test_deleting_a_missing_alias_is_not_found_like_a_missing_version(
    kiln_cli: Invoke, run_id: str
) -> None:
    missing_alias = kiln_cli("models", "alias", "wine", "nope", "--delete")
    missing_version = kiln_cli("models", "alias", "wine", "champion", "9")
    assert missing_alias.exit_code == missing_version.exit_code == 3
    _one_line_error(missing_alias, "no alias @nope")
    assert kiln_cli("models", "alias", "wine", "champion", "1").exit_code == 0
    assert kiln_cli("models", "alias", "wine", "champion", "--delete").exit_code == 0
