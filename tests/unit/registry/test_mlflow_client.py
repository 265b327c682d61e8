"""The real ``mlflow.MlflowClient`` drives Kiln's registry routes over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiln.registry.service import RegistryService
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.memory.registry import MemoryRegistryStore
from kiln.testing.server import registry_app, serve_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def server_url() -> Iterator[str]:
    service = RegistryService(
        MemoryRegistryStore(workspace="default"), artifact_options=ArtifactOptions()
    )
    with serve_in_thread(registry_app(service)) as url:
        yield url


def test_mlflow_client_round_trip(server_url: str) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=server_url, registry_uri=server_url)
    model = client.create_registered_model("churn", tags={"team": "a"}, description="d")
    assert (model.name, model.tags, model.description) == ("churn", {"team": "a"}, "d")
    for i in range(3):
        mv = client.create_model_version("churn", f"s3://bucket/churn/{i}", tags={"i": str(i)})
    assert (mv.version, mv.status, mv.current_stage) == ("3", "READY", "None")

    client.set_registered_model_alias("churn", "champion", "2")
    by_alias = client.get_model_version_by_alias("churn", "champion")
    assert (by_alias.version, by_alias.source, by_alias.aliases) == (
        "2",
        "s3://bucket/churn/1",
        ["champion"],
    )
    assert client.get_registered_model("churn").aliases == {"champion": "2"}
    assert client.get_model_version_download_uri("churn", "3") == "s3://bucket/churn/2"

    with pytest.warns(FutureWarning, match="stages"):
        client.transition_model_version_stage("churn", "1", "Production")
    with pytest.warns(FutureWarning, match="stages"):
        client.transition_model_version_stage("churn", "3", "Production", True)
    with pytest.warns(FutureWarning, match="stages"):
        latest = client.get_latest_versions("churn", stages=["Production"])
    assert [v.version for v in latest] == ["3"]
    assert client.get_model_version("churn", "1").current_stage == "Archived"

    found = client.search_model_versions("name = 'churn' AND tags.i = '0'")
    assert [v.version for v in found] == ["1"]
    models = client.search_registered_models(filter_string="name LIKE 'ch%'")
    assert [m.name for m in models] == ["churn"]

    client.rename_registered_model("churn", "churn2")
    assert client.get_model_version("churn2", "2").aliases == ["champion"]
    client.delete_model_version("churn2", "1")
    with pytest.raises(MlflowException, match="not found") as caught:
        client.get_model_version("churn2", "1")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException, match="already exists"):
        client.create_registered_model("churn2")
    client.delete_registered_model("churn2")
    assert list(client.search_registered_models()) == []
