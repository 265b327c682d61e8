"""The contract every ``LoggedModelStore`` passes (see ``kiln.store.protocols.logged_models``).

A backend's test module subclasses ``LoggedModelStoreContract``, provides two
fixtures, ``logged_model_store`` (a fresh, empty store of workspace ``default``;
runs ``RUNS`` may need to exist where the backend checks them) and
``open_workspace`` (a callable opening the same storage bound to a workspace), and
declares what the backend lacks (``kiln.testing.contracts.capabilities``)::

    class TestMemoryLoggedModels(LoggedModelStoreContract):
        @pytest.fixture
        def logged_model_store(self, state: LoggedModelMemoryState) -> LoggedModelStore:
            return MemoryLoggedModelStore(workspace="default", state=state, clock=TickingClock())

The models live in experiments ``"1"`` and ``"2"`` under the artifact root ``ROOT``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable

import pytest

from kiln.entities import LifecycleStage
from kiln.entities.logged_model import LoggedModelMetric, LoggedModelOutput, LoggedModelStatus
from kiln.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.testing.contracts.capabilities import OTHER_WORKSPACE, BackendContract, Capability

ROOT = "mlflow-artifacts:/1"
RUNS = ("b" * 32, "c" * 32, "e" * 32)
"""The run ids the tests name (outputs, inputs, and the runs of metrics)."""


def _names(page: object) -> list[str]:
    return [m.name for m in page]  # type: ignore[attr-defined]


class LoggedModelStoreContract(BackendContract):
    """Subclass in a test module that defines ``logged_model_store`` and ``open_workspace``."""

    # create / get ------------------------------------------------------------------
    def test_create_makes_a_pending_model_under_the_experiment_root(
        self, logged_model_store: LoggedModelStore
    ) -> None:
        model = logged_model_store.create_logged_model(
            "1",
            ROOT + "/",
            name="model",
            source_run_id="a" * 32,
            tags={"t": "1"},
            params={"p": "2"},
            model_type="agent",
        )
        assert re.fullmatch(r"m-[0-9a-f]{32}", model.model_id)
        assert model.artifact_location == f"{ROOT}/models/{model.model_id}/artifacts"
        assert (model.status, model.lifecycle_stage) == (
            LoggedModelStatus.PENDING,
            LifecycleStage.ACTIVE,
        )
        assert (model.tags, model.params, model.model_type) == ({"t": "1"}, {"p": "2"}, "agent")
        assert model.creation_timestamp == model.last_updated_timestamp
        assert logged_model_store.get_logged_model(model.model_id) == model
        assert model.model_uri == f"models:/{model.model_id}"

    def test_create_without_a_name_picks_one(self, logged_model_store: LoggedModelStore) -> None:
        model = logged_model_store.create_logged_model("1", ROOT)
        assert model.name
        assert not set(model.name) & set("/:.%\"'")

    @pytest.mark.parametrize("name", ["", "a/b", "a.b", "a:b", "50%", "it's"])
    def test_bad_names_are_refused(self, logged_model_store: LoggedModelStore, name: str) -> None:
        with pytest.raises(InvalidInput, match="Invalid model name"):
            logged_model_store.create_logged_model("1", ROOT, name=name)

    def test_bad_tag_keys_and_long_params_are_refused(
        self, logged_model_store: LoggedModelStore
    ) -> None:
        with pytest.raises(InvalidInput, match="tag key"):
            logged_model_store.create_logged_model("1", ROOT, tags={"../x": "v"})
        with pytest.raises(InvalidInput, match="limit is 6000"):
            logged_model_store.create_logged_model("1", ROOT, params={"p": "x" * 6001})

    def test_other_workspaces_do_not_see_the_model(
        self,
        logged_model_store: LoggedModelStore,
        open_workspace: Callable[[str], LoggedModelStore],
    ) -> None:
        if self.refuses_workspaces(open_workspace):
            return
        other = open_workspace(OTHER_WORKSPACE)
        assert other.workspace == OTHER_WORKSPACE
        model = logged_model_store.create_logged_model("1", ROOT, name="m")
        with pytest.raises(NotFound, match="not found"):
            other.get_logged_model(model.model_id)
        assert list(other.search_logged_models(["1"])) == []
        with pytest.raises(NotFound, match="not found"):
            other.set_logged_model_tags(model.model_id, {"a": "b"})
        assert logged_model_store.get_logged_model(model.model_id).tags == {}

    def test_unknown_ids_are_not_found(self, logged_model_store: LoggedModelStore) -> None:
        missing = "m-" + "0" * 32
        with pytest.raises(NotFound, match=missing):
            logged_model_store.get_logged_model(missing)
        with pytest.raises(NotFound, match=missing):
            logged_model_store.finalize_logged_model(missing, LoggedModelStatus.READY)
        with pytest.raises(NotFound, match=missing):
            logged_model_store.set_logged_model_tags(missing, {"a": "b"})

    # updates -------------------------------------------------------------------------
    def test_finalize_sets_status_and_touches_the_model(
        self, logged_model_store: LoggedModelStore
    ) -> None:
        model = logged_model_store.create_logged_model("1", ROOT, name="m")
        ready = logged_model_store.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
        assert ready.status is LoggedModelStatus.READY
        assert ready.last_updated_timestamp > model.last_updated_timestamp
        assert logged_model_store.get_logged_model(model.model_id).status is LoggedModelStatus.READY

    def test_tags_upsert_and_delete(self, logged_model_store: LoggedModelStore) -> None:
        model = logged_model_store.create_logged_model("1", ROOT, tags={"a": "1"})
        logged_model_store.set_logged_model_tags(model.model_id, {"a": "2", "b": "3"})
        logged_model_store.delete_logged_model_tag(model.model_id, "b")
        assert logged_model_store.get_logged_model(model.model_id).tags == {"a": "2"}
        with pytest.raises(NotFound, match="No tag with key 'b'"):
            logged_model_store.delete_logged_model_tag(model.model_id, "b")

    def test_params_are_write_once(self, logged_model_store: LoggedModelStore) -> None:
        model = logged_model_store.create_logged_model("1", ROOT, params={"lr": "0.1"})
        logged_model_store.log_logged_model_params(model.model_id, {"lr": "0.1", "depth": "3"})
        assert logged_model_store.get_logged_model(model.model_id).params == {
            "lr": "0.1",
            "depth": "3",
        }
        with pytest.raises(Conflict, match="Changing param values is not allowed"):
            logged_model_store.log_logged_model_params(model.model_id, {"lr": "0.2", "new": "x"})
        assert "new" not in logged_model_store.get_logged_model(model.model_id).params

    def test_metrics_round_trip_nan_included(self, logged_model_store: LoggedModelStore) -> None:
        model = logged_model_store.create_logged_model("1", ROOT)
        metrics = [
            LoggedModelMetric("acc", 0.5, 10, 1, "e" * 32, "train", "d1"),
            LoggedModelMetric("loss", math.nan, 11, run_id="b" * 32),
        ]
        logged_model_store.log_logged_model_metrics(model.model_id, metrics)
        got = logged_model_store.get_logged_model(model.model_id).metrics
        assert got[0] == metrics[0]
        assert (got[1].key, math.isnan(got[1].value)) == ("loss", True)

    def test_a_retried_metric_write_adds_nothing(
        self, logged_model_store: LoggedModelStore
    ) -> None:
        model = logged_model_store.create_logged_model("1", ROOT)
        points = [
            LoggedModelMetric("acc", 0.5, 10, 1, "e" * 32, "train", "d1"),
            LoggedModelMetric("loss", math.nan, 11, run_id="b" * 32),
            LoggedModelMetric("acc", 0.5, 10, 1, "e" * 32, "test", "d2"),
        ]
        logged_model_store.log_logged_model_metrics(model.model_id, points)
        logged_model_store.log_logged_model_metrics(model.model_id, [*points, points[0]])
        logged_model_store.log_logged_model_metrics(
            model.model_id, [LoggedModelMetric("loss", math.nan, 11, run_id="b" * 32)]
        )
        got = logged_model_store.get_logged_model(model.model_id).metrics
        assert sorted((m.key, m.dataset_name or "") for m in got) == [
            ("acc", "test"),
            ("acc", "train"),
            ("loss", ""),
        ]

    def test_metrics_without_a_run(self, logged_model_store: LoggedModelStore) -> None:
        model = logged_model_store.create_logged_model("1", ROOT)
        point = LoggedModelMetric("loss", math.nan, 11)
        if Capability.RUNLESS_MODEL_METRICS in self.lacks:
            with pytest.raises(InvalidInput, match="names no run"):
                logged_model_store.log_logged_model_metrics(
                    model.model_id, [LoggedModelMetric("acc", 1.0, 1, 0, "b" * 32), point]
                )
            assert logged_model_store.get_logged_model(model.model_id).metrics == ()
            return
        logged_model_store.log_logged_model_metrics(model.model_id, [point])
        logged_model_store.log_logged_model_metrics(model.model_id, [point])  # a retry
        (got,) = logged_model_store.get_logged_model(model.model_id).metrics
        assert (got.key, math.isnan(got.value), got.run_id) == ("loss", True, None)

    def test_run_model_inputs_are_kept_once_each(
        self, logged_model_store: LoggedModelStore
    ) -> None:
        run_id = "b" * 32
        first, second = "m-" + "2" * 32, "m-" + "1" * 32
        logged_model_store.log_model_inputs(run_id, [first, second, first])
        logged_model_store.log_model_inputs(run_id, [second])
        assert logged_model_store.get_model_inputs(run_id) == sorted([first, second])
        assert logged_model_store.get_model_inputs("c" * 32) == []

    def test_delete_hides_the_model(self, logged_model_store: LoggedModelStore) -> None:
        model = logged_model_store.create_logged_model("1", ROOT, name="gone")
        logged_model_store.delete_logged_model(model.model_id)
        with pytest.raises(NotFound, match="not found"):
            logged_model_store.get_logged_model(model.model_id)
        deleted = logged_model_store.get_logged_model(model.model_id, allow_deleted=True)
        assert deleted.lifecycle_stage is LifecycleStage.DELETED
        assert list(logged_model_store.search_logged_models(["1"])) == []
        with pytest.raises(NotFound, match="not found"):
            logged_model_store.delete_logged_model(model.model_id)
        with pytest.raises(NotFound, match="not found"):
            logged_model_store.log_logged_model_params(model.model_id, {"a": "b"})

    def test_run_outputs_round_trip(self, logged_model_store: LoggedModelStore) -> None:
        model = logged_model_store.create_logged_model("1", ROOT)
        run_id = "b" * 32
        logged_model_store.log_outputs(run_id, [LoggedModelOutput(model.model_id, 3)])
        assert logged_model_store.get_outputs(run_id) == [LoggedModelOutput(model.model_id, 3)]
        assert logged_model_store.get_outputs("c" * 32) == []
        with pytest.raises(NotFound, match="not found"):
            logged_model_store.log_outputs(run_id, [LoggedModelOutput("m-" + "1" * 32)])

    # search --------------------------------------------------------------------------
    @pytest.fixture
    def three(self, logged_model_store: LoggedModelStore) -> LoggedModelStore:
        """Models a (exp 1), b (exp 1), c (exp 2), created in that order."""
        a = logged_model_store.create_logged_model(
            "1", ROOT, name="a", params={"lr": "0.1"}, tags={"t": "x"}
        )
        b = logged_model_store.create_logged_model(
            "1", ROOT, name="b", params={"lr": "0.2"}, model_type="agent"
        )
        c = logged_model_store.create_logged_model("2", ROOT, name="c", params={"lr": "0.1"})
        run = RUNS[0]
        logged_model_store.log_logged_model_metrics(
            a.model_id,
            [
                LoggedModelMetric("acc", 0.9, 1, 0, run, dataset_name="train", dataset_digest="d1"),
                LoggedModelMetric("acc", 0.5, 2, 0, run, dataset_name="test", dataset_digest="d2"),
            ],
        )
        logged_model_store.log_logged_model_metrics(
            b.model_id, [LoggedModelMetric("acc", 0.7, 5, 0, run, dataset_name="test")]
        )
        logged_model_store.log_logged_model_metrics(
            c.model_id, [LoggedModelMetric("acc", 0.99, 1, 0, run)]
        )
        logged_model_store.finalize_logged_model(b.model_id, LoggedModelStatus.READY)
        return logged_model_store

    def test_search_defaults_to_newest_first_within_the_experiments(
        self, three: LoggedModelStore
    ) -> None:
        assert _names(three.search_logged_models(["1"])) == ["b", "a"]
        assert _names(three.search_logged_models(["1", "2"])) == ["c", "b", "a"]

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            ("name = 'a'", ["a"]),
            ("attributes.name != 'a'", ["c", "b"]),
            ("name LIKE '%'", ["c", "b", "a"]),
            ("name ILIKE 'A'", ["a"]),
            ("name IN ('a', 'c')", ["c", "a"]),
            ("params.lr = '0.1'", ["c", "a"]),
            ("params.lr = '0.1' AND name = 'c'", ["c"]),
            ("tags.t = 'x'", ["a"]),
            ("status = 'READY'", ["b"]),
            ("model_type = 'agent'", ["b"]),
            ("metrics.acc > 0.8", ["c", "a"]),
            ("metrics.acc < 0.6", ["a"]),
            ("creation_timestamp > 0", ["c", "b", "a"]),
            ("creation_time < 0", []),
        ],
    )
    def test_search_filters(
        self, three: LoggedModelStore, filter_string: str, expected: list[str]
    ) -> None:
        assert _names(three.search_logged_models(["1", "2"], filter_string)) == expected

    def test_datasets_restrict_metric_filters_and_membership(self, three: LoggedModelStore) -> None:
        test_only = [{"dataset_name": "test"}]
        found = three.search_logged_models(["1", "2"], "metrics.acc > 0.8", datasets=test_only)
        assert _names(found) == []
        assert _names(three.search_logged_models(["1", "2"], datasets=test_only)) == ["b", "a"]
        digest = [{"dataset_name": "test", "dataset_digest": "d2"}]
        assert _names(three.search_logged_models(["1", "2"], datasets=digest)) == ["a"]
        with pytest.raises(InvalidInput, match="dataset_name"):
            three.search_logged_models(["1"], datasets=[{"dataset_digest": "x"}])

    def test_order_by_attributes_and_latest_metric_values(self, three: LoggedModelStore) -> None:
        by_name = three.search_logged_models(["1", "2"], order_by=[{"field_name": "name"}])
        assert _names(by_name) == ["a", "b", "c"]
        desc = [{"field_name": "name", "ascending": False}]
        assert _names(three.search_logged_models(["1", "2"], order_by=desc)) == ["c", "b", "a"]
        # a's latest acc is 0.5 (timestamp 2), b 0.7, c 0.99
        by_acc = [{"field_name": "metrics.acc", "ascending": True}]
        assert _names(three.search_logged_models(["1", "2"], order_by=by_acc)) == ["a", "b", "c"]
        on_train = [{"field_name": "metrics.acc", "ascending": False, "dataset_name": "train"}]
        # only a has acc on train; the others sort last, newest first
        assert _names(three.search_logged_models(["1", "2"], order_by=on_train)) == ["a", "c", "b"]
        with pytest.raises(InvalidInput, match="Only metrics are supported"):
            three.search_logged_models(["1"], order_by=[{"field_name": "params.lr"}])
        with pytest.raises(InvalidInput, match="invalid attribute"):
            three.search_logged_models(["1"], order_by=[{"field_name": "nope"}])

    def test_paging_walks_every_model_once(self, three: LoggedModelStore) -> None:
        order = [{"field_name": "name"}]
        first = three.search_logged_models(["1", "2"], max_results=2, order_by=order)
        assert _names(first) == ["a", "b"]
        assert first.next_page_token is not None
        second = three.search_logged_models(
            ["1", "2"], max_results=2, order_by=order, page_token=first.next_page_token
        )
        assert _names(second) == ["c"]
        assert second.next_page_token is None
        with pytest.raises(InvalidInput, match="different search"):
            three.search_logged_models(["1"], max_results=2, page_token=first.next_page_token)
        with pytest.raises(InvalidInput, match="invalid page token"):
            three.search_logged_models(["1"], page_token="garbage!")
        with pytest.raises(InvalidInput, match="max_results"):
            three.search_logged_models(["1"], max_results=0)

    def test_import_keeps_the_model_as_it_was(self, logged_model_store: LoggedModelStore) -> None:
        made = logged_model_store.create_logged_model(
            "1", ROOT, name="m", params={"p": "1"}, tags={"t": "2"}
        )
        logged_model_store.log_logged_model_metrics(
            made.model_id, [LoggedModelMetric("acc", 0.5, 3, 1, "e" * 32)]
        )
        logged_model_store.finalize_logged_model(made.model_id, LoggedModelStatus.READY)
        original = logged_model_store.get_logged_model(made.model_id)
        copy = dataclasses.replace(original, model_id="m-" + "7" * 32, experiment_id="2")
        if Capability.LOGGED_MODEL_IMPORT in self.lacks:
            with pytest.raises(InvalidInput, match="cannot import logged model"):
                logged_model_store.import_logged_model(copy)
            with pytest.raises(NotFound, match="not found"):
                logged_model_store.get_logged_model(copy.model_id, allow_deleted=True)
            return
        logged_model_store.import_logged_model(copy)
        assert logged_model_store.get_logged_model(copy.model_id) == copy
        with pytest.raises(AlreadyExists, match="already exists"):
            logged_model_store.import_logged_model(copy)
        gone = dataclasses.replace(
            copy, model_id="m-" + "8" * 32, lifecycle_stage=LifecycleStage.DELETED
        )
        logged_model_store.import_logged_model(gone)
        assert logged_model_store.get_logged_model(gone.model_id, allow_deleted=True) == gone


__all__ = ["ROOT", "RUNS", "LoggedModelStoreContract"]
