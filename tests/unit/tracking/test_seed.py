"""kiln.seed_everything: repeatable draws, PYTHONHASHSEED for children, the kiln.seed tag."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import pytest

import kiln
from kiln.errors import InvalidInput
from kiln.tracking.client import KilnClient
from kiln.tracking.seed import MAX_SEED, SEED_TAG


def _draws() -> tuple[list[float], list[float]]:
    return [random.random() for _ in range(3)], np.random.rand(3).tolist()


@pytest.fixture(autouse=True)
def _restore_global_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what seeding changes for the whole process, so other tests never see it."""
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # drops a pending import hook
    torch = sys.modules.get("torch")
    before = None
    if torch is not None:
        cudnn = torch.backends.cudnn
        before = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            cudnn.deterministic,
            cudnn.benchmark,
        )
    yield
    torch = sys.modules.get("torch")
    if torch is not None:
        enabled, warn_only, deterministic, benchmark = before or (False, False, False, False)
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = benchmark


def test_same_seed_same_draws(tracking: KilnClient) -> None:
    assert kiln.seed_everything(7) == 7
    first = _draws()
    kiln.seed_everything(7)
    assert _draws() == first
    kiln.seed_everything(8)
    assert _draws() != first


def test_children_inherit_the_hash_seed(tracking: KilnClient) -> None:
    kiln.seed_everything(1234)
    assert os.environ["PYTHONHASHSEED"] == "1234"
    code = "print(hash('kiln'))"
    hashes = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(hashes) == 1


def test_active_run_gets_the_seed_tag(tracking: KilnClient) -> None:
    with kiln.start_run() as run:
        kiln.seed_everything(42)
    assert kiln.get_run(run.info.run_id).data.tags[SEED_TAG] == "42"


def test_seed_before_start_run_tags_the_later_run(tracking: KilnClient) -> None:
    kiln.seed_everything(3)
    with kiln.start_run() as run:
        pass
    with kiln.start_run(tags={SEED_TAG: "override"}) as explicit:
        pass
    assert kiln.get_run(run.info.run_id).data.tags[SEED_TAG] == "3"
    assert kiln.get_run(explicit.info.run_id).data.tags[SEED_TAG] == "override"


def test_seed_before_joining_a_launched_run_tags_it(
    tracking: KilnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched = tracking.create_run("0")
    monkeypatch.setenv("KILN_RUN_ID", launched.info.run_id)
    kiln.seed_everything(5)
    assert SEED_TAG not in tracking.get_run(launched.info.run_id).data.tags
    with kiln.start_run() as joined:
        assert joined.info.run_id == launched.info.run_id
    assert tracking.get_run(launched.info.run_id).data.tags[SEED_TAG] == "5"


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (True, "must be an integer, got bool"),
        (1.5, "must be an integer, got float"),
        ("42", "must be an integer, got str"),
        (-1, "out of range"),
        (MAX_SEED + 1, "out of range"),
    ],
)
def test_bad_seeds_are_refused(tracking: KilnClient, seed: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        kiln.seed_everything(seed)  # type: ignore[arg-type]
    assert kiln.active_run() is None


def test_seeding_without_a_run_creates_none(tracking: KilnClient) -> None:
    kiln.seed_everything(0)
    assert kiln.active_run() is None
    assert tracking.search_runs(["0"]).items == []


def test_torch_is_seeded_deterministically(tracking: KilnClient) -> None:
    import torch

    kiln.seed_everything(11)
    first = torch.rand(4).tolist()
    kiln.seed_everything(11)
    assert torch.rand(4).tolist() == first
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()


_LATER_IMPORT = """
import importlib.util, json, sys
import kiln

kiln.seed_everything(5)
loaded_early = [name for name in ("numpy", "torch") if name in sys.modules]
importlib.util.find_spec("numpy")  # libraries probe before importing; the seed must survive
import numpy
seen = {"numpy": numpy.random.rand(3).tolist()}
numpy.random.seed(5)
expected = {"numpy": numpy.random.rand(3).tolist()}
if importlib.util.find_spec("torch") is not None:
    import torch
    seen["torch"] = torch.rand(3).tolist()
    seen["deterministic"] = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(5)
    expected["torch"] = torch.rand(3).tolist()
    expected["deterministic"] = True
print(json.dumps({"early": loaded_early, "same": seen == expected,
                  "hooks_left": [type(f).__name__ for f in sys.meta_path
                                 if type(f).__name__ == "_SeedOnImport"]}))
"""


@pytest.mark.slow
def test_libraries_imported_after_seeding_are_seeded_on_import() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_LATER_IMPORT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"early": [], "same": True, "hooks_left": []}
