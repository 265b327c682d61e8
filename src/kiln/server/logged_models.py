"""MLflow 3 logged-model endpoints, as far as this server answers them.

The MLflow 3 client searches logged models on ordinary calls that have nothing
to do with models: ``MlflowClient.list_artifacts(run_id, path)`` and
``download_artifacts`` look for a logged model named like the first path
segment. This server keeps no logged models, so the search truthfully answers
an empty page, and creating one is refused with ``501 NOT_IMPLEMENTED`` (a 5xx the
client does not retry) rather than pretending to store it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.server.errors import NotImplementedOnServer
from kiln.server.routing import ApiRoute
from kiln.store.base import TrackingStore
from kiln.wire.fields import JsonObject, opt_int, opt_str, str_list


@dataclass(frozen=True, slots=True)
class LoggedModelApi:
    store: TrackingStore

    def search(self, fields: JsonObject) -> dict[str, Any]:
        for experiment_id in str_list(fields, "experiment_ids"):
            self.store.get_experiment(experiment_id)
        opt_str(fields, "filter")
        opt_int(fields, "max_results")
        opt_str(fields, "page_token")
        return {}

    def create(self, fields: JsonObject) -> dict[str, Any]:
        raise NotImplementedOnServer(
            "this Kiln server does not store MLflow 3 logged models yet; "
            "log model files as run artifacts instead"
        )

    def routes(self) -> list[ApiRoute]:
        return [
            ApiRoute("/mlflow/logged-models/search", "POST", self.search, ("experiment_ids",)),
            ApiRoute("/mlflow/logged-models", "POST", self.create),
        ]


__all__ = ["LoggedModelApi"]
