"""Kiln's workspace functions against the real ``mlflow server`` started without
``--enable-workspaces``: one clear refusal that says how to turn workspaces on."""

from __future__ import annotations

from pathlib import Path

import pytest

import kiln
from kiln.errors import InvalidInput
from kiln.testing.server_process import mlflow_server_process
from kiln.tracking.fluent import reset_state


def test_a_server_without_workspaces_is_one_clear_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MLFLOW_WORKSPACE", "KILN_WORKSPACE", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with mlflow_server_process(tmp_path) as url:
        reset_state()
        kiln.set_tracking_uri(url)
        try:
            with pytest.raises(InvalidInput, match=r"runs without workspaces.*--enable-workspaces"):
                kiln.list_workspaces()
            with pytest.raises(InvalidInput, match="runs without workspaces"):
                kiln.create_workspace("team-a")
            assert kiln.search_experiments()[0].name == "Default"  # no header sent: works
        finally:
            reset_state()
