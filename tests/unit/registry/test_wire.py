"""Registry JSON equals what MLflow's own entities and message_to_json write."""

from __future__ import annotations

import json
from typing import Any

from kiln.entities import ModelVersion, ModelVersionStage, RegisteredModel
from kiln.wire.registry import (
    model_version_from_json,
    model_version_to_json,
    registered_model_from_json,
    registered_model_to_json,
)

VERSION = ModelVersion(
    name="churn",
    version=3,
    creation_timestamp=1_700_000_000_123,
    last_updated_timestamp=1_700_000_000_456,
    current_stage=ModelVersionStage.PRODUCTION,
    description="third",
    source="s3://bucket/churn/3",
    run_id="a" * 32,
    run_link="http://kiln/run",
    tags={"k": "v", "team": "growth"},
    aliases=("champion",),
)
MODEL = RegisteredModel(
    name="churn",
    creation_timestamp=1_700_000_000_000,
    last_updated_timestamp=1_700_000_000_456,
    description="churn model",
    tags={"team": "growth"},
    aliases={"champion": 3},
    latest_versions=(VERSION,),
)


def _mlflow_version() -> Any:
    from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion
    from mlflow.entities.model_registry import ModelVersionTag

    return MlflowModelVersion(
        name="churn",
        version="3",
        creation_timestamp=1_700_000_000_123,
        last_updated_timestamp=1_700_000_000_456,
        description="third",
        current_stage="Production",
        source="s3://bucket/churn/3",
        run_id="a" * 32,
        status="READY",
        run_link="http://kiln/run",
        tags=[ModelVersionTag("k", "v"), ModelVersionTag("team", "growth")],
        aliases=["champion"],
    )


def test_model_version_json_matches_mlflow() -> None:
    from mlflow.utils.proto_json_utils import message_to_json

    expected = json.loads(message_to_json(_mlflow_version().to_proto()))
    assert model_version_to_json(VERSION) == expected


def test_registered_model_json_matches_mlflow() -> None:
    from mlflow.entities.model_registry import RegisteredModel as MlflowRegisteredModel
    from mlflow.entities.model_registry import RegisteredModelAlias, RegisteredModelTag
    from mlflow.utils.proto_json_utils import message_to_json

    model = MlflowRegisteredModel(
        name="churn",
        creation_timestamp=1_700_000_000_000,
        last_updated_timestamp=1_700_000_000_456,
        description="churn model",
        latest_versions=[_mlflow_version()],
        tags=[RegisteredModelTag("team", "growth")],
        aliases=[RegisteredModelAlias("champion", "3")],
    )
    assert registered_model_to_json(MODEL) == json.loads(message_to_json(model.to_proto()))


def test_round_trips() -> None:
    assert model_version_from_json(model_version_to_json(VERSION)) == VERSION
    assert registered_model_from_json(registered_model_to_json(MODEL)) == MODEL
