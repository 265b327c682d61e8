"""predict_file (``kiln models predict``) and the scoring process command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scoring_fakes import SumModel

from kiln.cli.serve import ResolvedModel, scoring_argv
from kiln.errors import BadInput
from kiln.serving.batch import predict_file


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    pd.DataFrame({"a": range(25), "b": [1.0] * 25}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_csv_streams_in_chunks_into_any_output(source: Path, tmp_path: Path, suffix: str) -> None:
    model = SumModel()
    progress: list[tuple[int, int | None]] = []
    target = tmp_path / f"out{suffix}"
    rows = predict_file(
        model, source, target, chunk_rows=10, progress=lambda d, t: progress.append((d, t))
    )
    assert rows == 25
    assert [len(chunk) for chunk in model.seen] == [10, 10, 5]
    assert progress[-1] == (source.stat().st_size, source.stat().st_size)
    expected = [float(i + 1) for i in range(25)]
    if suffix == ".csv":
        assert pd.read_csv(target)["prediction"].tolist() == expected
    elif suffix == ".json":
        assert json.loads(target.read_text()) == {"predictions": expected}
    else:
        assert pd.read_parquet(target)["prediction"].tolist() == expected


def test_json_input_is_any_invocations_body(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(
        json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]] * 7}})
    )
    target = tmp_path / "out.json"
    assert predict_file(SumModel(), source, target, chunk_rows=3) == 7
    assert json.loads(target.read_text()) == {"predictions": [3.0] * 7}


def test_parquet_input_streams(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pd.DataFrame({"a": [1.0] * 12, "b": [2.0] * 12}).to_parquet(source)
    model = SumModel()
    assert predict_file(model, source, tmp_path / "out.csv", chunk_rows=5) == 12
    assert [len(chunk) for chunk in model.seen] == [5, 5, 2]


@pytest.mark.parametrize("parquet_side", ["input", "output"])
def test_parquet_without_pyarrow_names_the_extra(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parquet_side: str
) -> None:
    if parquet_side == "input":
        parquet = tmp_path / "in.parquet"
        pd.read_csv(source).to_parquet(parquet)
        source = parquet
    target = tmp_path / ("out.parquet" if parquet_side == "output" else "out.csv")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` fails, as uninstalled
    with pytest.raises(BadInput, match=r"need pyarrow.*pip install 'kiln-mlops\[parquet\]'"):
        predict_file(SumModel(), source, target)
    assert not target.exists()  # refused before anything was written


def test_unknown_input_suffix(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("a")
    with pytest.raises(BadInput, match=r"use a \.csv, \.json or \.parquet input file"):
        predict_file(SumModel(), source, tmp_path / "out.json")


def test_scoring_argv_carries_every_option_but_never_the_token(tmp_path: Path) -> None:
    model = ResolvedModel(tmp_path / "model", "wine", "3")
    argv = scoring_argv(
        model,
        host="0.0.0.0",
        port=8080,
        workers=4,
        auth_token_file="/run/token",
        max_body_mb=1.5,
        model_threads=2,
        max_inflight_mb=64,
    )
    assert argv[1:5] == ["-m", "kiln.serving", "--model-path", str(tmp_path / "model")]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options == {
        "--model-path": str(tmp_path / "model"),
        "--name": "wine",
        "--host": "0.0.0.0",
        "--port": "8080",
        "--workers": "4",
        "--max-body-bytes": str(int(1.5 * 1024 * 1024)),
        "--model-threads": "2",
        "--max-inflight-bytes": str(64 * 1024 * 1024),
        "--version": "3",
        "--auth-token-file": "/run/token",
    }


def test_limit_threads_caps_the_native_pools_in_a_fresh_process() -> None:
    code = (
        "import sklearn.ensemble, threadpoolctl\n"
        "from kiln.serving.process import limit_threads\n"
        "limit_threads(1)\n"
        "print(sorted({p['num_threads'] for p in threadpoolctl.threadpool_info()}))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[1]"
