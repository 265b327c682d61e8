"""The ``search_runs`` part of the ``TrackingStore`` contract: filters, order, view
types, pages and the errors of bad arguments.
"""

from __future__ import annotations

import math

import pytest

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import InvalidInput
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts.support import T0, all_runs, run_names


class TrackingSearchContract:
    """Mixed into ``TrackingStoreContract``; uses its ``store`` fixture."""

    # search_runs -------------------------------------------------------------
    @pytest.fixture
    def populated(self, store: TrackingStore) -> dict[str, str]:
        """Five runs in one experiment; returns run name -> run id (plus "experiment")."""
        experiment_id = store.create_experiment("search")
        specs: list[tuple[str, int, dict[str, float], dict[str, str], dict[str, str]]] = [
            ("alpha", 1, {"loss": 0.5, "acc": 0.8}, {"opt": "adam", "lr": "0.1"}, {"g": "x"}),
            ("beta", 2, {"loss": 0.2}, {"opt": "sgd", "lr": "0.01"}, {"g": "y"}),
            ("gamma", 3, {"loss": math.nan}, {"opt": "Adam"}, {"g": "x"}),
            ("delta", 4, {"acc": 0.9}, {}, {}),
            ("epsilon", 5, {"loss": 0.9}, {"opt": "adamw"}, {"g": "y"}),
        ]
        ids: dict[str, str] = {"experiment": experiment_id}
        for name, offset, metrics, params, tags in specs:
            run = store.create_run(experiment_id, start_time=T0 + offset, run_name=name)
            store.log_batch(
                run.run_id,
                metrics=[Metric(k, v, T0, 0) for k, v in metrics.items()],
                params=[Param(k, v) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            ids[name] = run.run_id
        store.update_run_info(ids["beta"], status=RunStatus.FINISHED, end_time=T0 + 10)
        store.update_run_info(ids["delta"], status=RunStatus.FAILED, end_time=T0 + 20)
        return ids

    def test_search_runs_default_order_is_newest_first(
        self, store: TrackingStore, populated: dict[str, str]
    ) -> None:
        page = store.search_runs([populated["experiment"]])
        assert run_names(page) == ["epsilon", "delta", "gamma", "beta", "alpha"]
        assert page.next_page_token is None
        alpha = next(run for run in page if run.info.run_name == "alpha")
        assert alpha == store.get_run(populated["alpha"])

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            ("metrics.loss < 0.6", {"alpha", "beta"}),
            ("metrics.loss >= 0.5", {"alpha", "epsilon"}),
            ("metrics.loss != 0.5", {"beta", "gamma", "epsilon"}),
            ("metrics.acc > 0", {"alpha", "delta"}),
            ("metrics.loss > 0 AND metrics.acc > 0", {"alpha"}),
            ("params.opt = 'adam'", {"alpha"}),
            ("params.opt != 'adam'", {"beta", "gamma", "epsilon"}),
            ("params.opt LIKE 'adam%'", {"alpha", "epsilon"}),
            ("params.opt ILIKE 'adam%'", {"alpha", "gamma", "epsilon"}),
            ("params.opt ILIKE '_dam'", {"alpha", "gamma"}),
            ("params.opt IS NULL", {"delta"}),
            ("params.lr IS NOT NULL", {"alpha", "beta"}),
            ("params.lr = '0.1' AND params.opt = 'adam'", {"alpha"}),
            ("tags.g = 'x'", {"alpha", "gamma"}),
            ("tags.g ILIKE 'Y'", {"beta", "epsilon"}),
            ("tags.g LIKE 'Y'", set()),
            ("tags.g IS NULL", {"delta"}),
            ("tags.`mlflow.runName` = 'beta'", {"beta"}),
            ("attributes.status = 'FINISHED'", {"beta"}),
            ("attributes.status != 'RUNNING'", {"beta", "delta"}),
            ("status LIKE 'F%'", {"beta", "delta"}),
            ("attributes.run_name = 'gamma'", {"gamma"}),
            ("run_name ILIKE '%TA'", {"beta", "delta"}),
            (f"attributes.start_time >= {T0 + 4}", {"delta", "epsilon"}),
            (f"created < {T0 + 2}", {"alpha"}),
            (f"attributes.end_time > {T0 + 15}", {"delta"}),
            ("params.opt = 'nothing'", set()),
        ],
    )
    def test_search_runs_filters(
        self,
        store: TrackingStore,
        populated: dict[str, str],
        filter_string: str,
        expected: set[str],
    ) -> None:
        page = store.search_runs([populated["experiment"]], filter_string=filter_string)
        assert set(run_names(page)) == expected

    def test_search_runs_nan_metrics_only_satisfy_not_equal(
        self, store: TrackingStore, populated: dict[str, str]
    ) -> None:
        experiment = [populated["experiment"]]
        for op in ("=", "<", ">", "<=", ">="):
            found = run_names(store.search_runs(experiment, filter_string=f"metrics.loss {op} 0"))
            assert "gamma" not in found, op
        assert "gamma" in run_names(
            store.search_runs(experiment, filter_string="metrics.loss != 0")
        )

    def test_search_runs_by_run_id_list(
        self, store: TrackingStore, populated: dict[str, str]
    ) -> None:
        a, b = populated["alpha"], populated["beta"]
        experiment = [populated["experiment"]]
        found = store.search_runs(experiment, filter_string=f"attributes.run_id IN ('{a}', '{b}')")
        assert set(run_names(found)) == {"alpha", "beta"}
        rest = store.search_runs(experiment, filter_string=f"run_id NOT IN ('{a}', '{b}')")
        assert set(run_names(rest)) == {"gamma", "delta", "epsilon"}

    @pytest.mark.parametrize(
        ("order_by", "expected"),
        [
            (["metrics.loss"], ["beta", "alpha", "epsilon", "gamma", "delta"]),
            (["metrics.loss DESC"], ["epsilon", "alpha", "beta", "gamma", "delta"]),
            (["metrics.acc ASC"], ["alpha", "delta", "epsilon", "gamma", "beta"]),
            (["params.lr"], ["beta", "alpha", "epsilon", "delta", "gamma"]),
            (["params.lr DESC"], ["alpha", "beta", "epsilon", "delta", "gamma"]),
            (["tags.g", "metrics.loss DESC"], ["alpha", "gamma", "epsilon", "beta", "delta"]),
            (["attributes.start_time ASC"], ["alpha", "beta", "gamma", "delta", "epsilon"]),
            (["run_name"], ["alpha", "beta", "delta", "epsilon", "gamma"]),
            (["end_time DESC"], ["delta", "beta", "epsilon", "gamma", "alpha"]),
            (["status", "start_time"], ["delta", "beta", "alpha", "gamma", "epsilon"]),
        ],
    )
    def test_search_runs_order_by(
        self,
        store: TrackingStore,
        populated: dict[str, str],
        order_by: list[str],
        expected: list[str],
    ) -> None:
        page = store.search_runs([populated["experiment"]], order_by=order_by)
        assert run_names(page) == expected

    def test_search_runs_view_types(self, store: TrackingStore, populated: dict[str, str]) -> None:
        experiment = [populated["experiment"]]
        store.delete_run(populated["beta"])
        active = store.search_runs(experiment, run_view_type=ViewType.ACTIVE_ONLY)
        assert "beta" not in run_names(active)
        assert len(active) == 4
        deleted = store.search_runs(experiment, run_view_type=ViewType.DELETED_ONLY)
        assert run_names(deleted) == ["beta"]
        assert len(store.search_runs(experiment, run_view_type=ViewType.ALL)) == 5

    def test_search_runs_pagination_has_no_gaps_or_duplicates(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("pages")
        created = {
            store.create_run(experiment_id, start_time=T0 + i % 3, run_name=f"r{i}").run_id
            for i in range(11)
        }
        for order_by in ([], ["metrics.none DESC"], ["start_time ASC"]):
            seen: list[str] = []
            token: str | None = None
            pages = 0
            while True:
                page = store.search_runs(
                    [experiment_id], max_results=4, order_by=order_by, page_token=token
                )
                pages += 1
                assert len(page.items) <= 4
                seen.extend(run.run_id for run in page.items)
                token = page.next_page_token
                if token is None:
                    break
            assert pages == 3
            assert len(seen) == len(set(seen)) == 11
            assert set(seen) == created
            whole = store.search_runs([experiment_id], order_by=order_by)
            assert [run.run_id for run in whole] == seen

    def test_search_runs_across_experiments(self, store: TrackingStore) -> None:
        first = store.create_experiment("first")
        second = store.create_experiment("second")
        third = store.create_experiment("third")
        store.create_run(first, run_name="one", start_time=T0 + 1)
        store.create_run(second, run_name="two", start_time=T0 + 2)
        store.create_run(third, run_name="three", start_time=T0 + 3)
        assert run_names(store.search_runs([first, second])) == ["two", "one"]
        assert run_names(all_runs(store, [third, first], max_results=1)) == ["three", "one"]
        assert run_names(store.search_runs([first, "987654"])) == ["one"]
        assert store.search_runs([]).items == []

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"filter_string": "metrics.loss > 1 OR params.a = 'b'"}, "OR"),
            ({"filter_string": "metrics.loss > 'x'"}, "number"),
            ({"filter_string": "params.a > 'x'"}, "'>'"),
            ({"filter_string": "attributes.nope = 'x'"}, "nope"),
            ({"filter_string": "params.a = 'unterminated"}, "quote"),
            ({"order_by": ["metrics.loss SIDEWAYS"]}, "order_by"),
            ({"order_by": ["attributes.nope"]}, "nope"),
            ({"max_results": 0}, "max_results"),
            ({"max_results": 50001}, "max_results"),
            ({"page_token": "garbage!"}, "page token"),
        ],
    )
    def test_search_runs_rejects_bad_arguments(
        self, store: TrackingStore, kwargs: dict[str, object], message: str
    ) -> None:
        with pytest.raises(InvalidInput, match=message):
            store.search_runs([DEFAULT_EXPERIMENT_ID], **kwargs)  # type: ignore[arg-type]


__all__ = ["TrackingSearchContract"]
