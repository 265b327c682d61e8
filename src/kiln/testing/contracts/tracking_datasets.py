"""The dataset-input part of the ``TrackingStore`` contract (``log_inputs``).

``kiln.testing.contracts.TrackingStoreContract`` inherits these tests, so every
backend's contract suite runs them; they use the same ``store`` and
``open_workspace`` fixtures.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiln.entities import (
    DATASET_CONTEXT_TAG,
    DEFAULT_EXPERIMENT_ID,
    Dataset,
    DatasetInput,
    InputTag,
    RunInputs,
    ViewType,
)
from kiln.errors import Conflict, InvalidInput, NotFound
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts.capabilities import OTHER_WORKSPACE, BackendContract

_SCHEMA = '{"mlflow_colspec": [{"type": "double", "name": "x", "required": true}]}'
_PROFILE = '{"num_rows": 3, "num_elements": 3}'


def _dataset(name: str = "train", digest: str = "d1", source: str = '{"uri": "/d"}') -> Dataset:
    return Dataset(name, digest, "local", source, _SCHEMA, _PROFILE)


def _input(dataset: Dataset, context: str | None = "training", **tags: str) -> DatasetInput:
    items = [InputTag(DATASET_CONTEXT_TAG, context)] if context is not None else []
    items += [InputTag(k, v) for k, v in tags.items()]
    return DatasetInput(dataset, tuple(items))


def _run_id(store: TrackingStore, experiment_id: str = DEFAULT_EXPERIMENT_ID, **kw: int) -> str:
    return store.create_run(experiment_id, **kw).run_id  # type: ignore[arg-type]


class DatasetInputContract(BackendContract):
    """Mixed into ``TrackingStoreContract``."""

    def test_run_without_inputs_has_empty_inputs(self, store: TrackingStore) -> None:
        run_id = _run_id(store)
        store.log_inputs(run_id, [])
        assert store.get_run(run_id).inputs == RunInputs()

    def test_log_inputs_round_trip(self, store: TrackingStore) -> None:
        run_id = _run_id(store)
        bare = Dataset("eval", "e1", "http", '{"url": "https://x/e.csv"}')
        store.log_inputs(run_id, [_input(_dataset(), zeta="1", alpha="2"), _input(bare, None)])
        expected = RunInputs(
            (
                DatasetInput(bare, ()),
                DatasetInput(
                    _dataset(),
                    (InputTag("alpha", "2"), InputTag(DATASET_CONTEXT_TAG, "training"),
                     InputTag("zeta", "1")),
                ),
            )
        )  # fmt: skip
        assert store.get_run(run_id).inputs == expected
        (found,) = store.search_runs([DEFAULT_EXPERIMENT_ID]).items
        assert found.inputs == expected
        assert found.inputs.dataset_inputs[1].context == "training"

    def test_datasets_are_deduplicated_per_experiment(self, store: TrackingStore) -> None:
        first, second = _run_id(store), _run_id(store)
        store.log_inputs(first, [_input(_dataset(source="s1"))])
        store.log_inputs(second, [_input(_dataset(source="s2"), "eval")])
        stored = store.get_run(second).inputs.dataset_inputs
        assert [(i.dataset.source, i.context) for i in stored] == [("s1", "eval")]
        other_experiment = store.create_experiment("datasets-elsewhere")
        third = _run_id(store, other_experiment)
        store.log_inputs(third, [_input(_dataset(source="s3"))])
        assert store.get_run(third).inputs.dataset_inputs[0].dataset.source == "s3"

    def test_a_run_links_a_dataset_once(self, store: TrackingStore) -> None:
        run_id = _run_id(store)
        store.log_inputs(run_id, [_input(_dataset(), "training"), _input(_dataset(), "eval")])
        store.log_inputs(run_id, [_input(_dataset(), "test")])
        store.log_inputs(run_id, [_input(_dataset(digest="d2"), "test")])
        inputs = store.get_run(run_id).inputs.dataset_inputs
        assert [(i.dataset.digest, i.context) for i in inputs] == [
            ("d1", "training"),
            ("d2", "test"),
        ]

    def test_inputs_are_ordered_by_name_then_digest(self, store: TrackingStore) -> None:
        run_id = _run_id(store)
        names = [("b", "2"), ("a", "9"), ("b", "1")]
        store.log_inputs(run_id, [_input(_dataset(n, d)) for n, d in names])
        inputs = store.get_run(run_id).inputs.dataset_inputs
        assert [(i.dataset.name, i.dataset.digest) for i in inputs] == sorted(names)

    @pytest.mark.parametrize(
        ("item", "message"),
        [
            (_input(_dataset(name="n" * 501)), "dataset name is 501 characters"),
            (_input(_dataset(digest="d" * 37)), "dataset digest is 37 characters"),
            (_input(_dataset(source="s" * 65536)), "dataset source is 65536 characters"),
            (
                _input(Dataset("n", "d", "local", "s", "x" * 1048576)),
                "dataset schema is 1048576 characters",
            ),
            (_input(_dataset(name="")), "dataset name must not be empty"),
            (_input(_dataset(), k="v" * 501), "input tag 'k' value is 501 characters"),
            (DatasetInput(_dataset(), (InputTag("k" * 256, "v"),)), "input tag key is 256"),
            (
                DatasetInput(_dataset(), (InputTag("k", "1"), InputTag("k", "2"))),
                "has tag 'k' twice",
            ),
        ],
    )
    def test_log_inputs_limits(
        self, store: TrackingStore, item: DatasetInput, message: str
    ) -> None:
        run_id = _run_id(store)
        good = _input(_dataset("fine", "ok"))
        with pytest.raises(InvalidInput, match=message):
            store.log_inputs(run_id, [good, item])
        assert store.get_run(run_id).inputs == RunInputs()

    def test_log_inputs_needs_a_live_run(self, store: TrackingStore) -> None:
        run_id = _run_id(store)
        store.delete_run(run_id)
        with pytest.raises(Conflict, match=run_id):
            store.log_inputs(run_id, [_input(_dataset())])
        with pytest.raises(NotFound, match="f" * 32):
            store.log_inputs("f" * 32, [_input(_dataset())])
        store.restore_run(run_id)
        assert store.get_run(run_id).inputs == RunInputs()

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            ("datasets.name = 'train'", ["both", "train-only"]),
            ("dataset.digest IN ('e1', 'zz')", ["both"]),
            ("datasets.context = 'eval'", ["both"]),
            ("datasets.context LIKE 'train%'", ["both", "train-only"]),
            ("datasets.name != 'train'", ["both"]),
            ("datasets.name ILIKE 'TR%' AND datasets.context = 'eval'", ["both"]),
            ("datasets.digest = 'nope'", []),
        ],
    )
    def test_search_runs_by_dataset(
        self, store: TrackingStore, filter_string: str, expected: list[str]
    ) -> None:
        both = store.create_run(DEFAULT_EXPERIMENT_ID, run_name="both", start_time=3)
        train = store.create_run(DEFAULT_EXPERIMENT_ID, run_name="train-only", start_time=2)
        store.create_run(DEFAULT_EXPERIMENT_ID, run_name="none", start_time=1)
        store.log_inputs(
            both.run_id,
            [_input(_dataset()), _input(Dataset("eval", "e1", "local", "s"), "eval")],
        )
        store.log_inputs(train.run_id, [_input(_dataset())])
        found = store.search_runs(
            [DEFAULT_EXPERIMENT_ID], filter_string=filter_string, run_view_type=ViewType.ALL
        )
        assert [run.info.run_name for run in found.items] == expected

    def test_other_workspace_cannot_log_inputs(
        self, store: TrackingStore, open_workspace: Callable[[str], TrackingStore]
    ) -> None:
        if self.refuses_workspaces(open_workspace):
            return
        run_id = _run_id(store)
        with pytest.raises(NotFound, match=run_id):
            open_workspace(OTHER_WORKSPACE).log_inputs(run_id, [_input(_dataset())])
        assert store.get_run(run_id).inputs == RunInputs()


__all__ = ["DatasetInputContract"]
