"""How ``mlflow-artifacts:`` and proxy ``http(s)://`` artifact URIs are resolved (no server)."""

from __future__ import annotations

import pytest

from kiln.errors import InvalidUri
from kiln.store.artifacts.http import (
    HttpArtifactStore,
    resolve_artifact_url,
    split_service_url,
)
from kiln.store.open import open_artifact_store

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.mark.parametrize(
    ("artifact_uri", "tracking_uri", "expected"),
    [
        ("mlflow-artifacts:/0/r/artifacts", "http://h:5000", f"http://h:5000{PROXY}/0/r/artifacts"),
        (
            "mlflow-artifacts:/0/r/artifacts/",
            "http://h:5000/",
            f"http://h:5000{PROXY}/0/r/artifacts",
        ),
        ("mlflow-artifacts:/", "https://h", f"https://h{PROXY}"),
        ("mlflow-artifacts:/x", "https://h/ml/", f"https://h/ml{PROXY}/x"),
        ("mlflow-artifacts://other:9/x", "https://h:1", f"https://other:9{PROXY}/x"),
        ("mlflow-artifacts://other:9/x", None, f"http://other:9{PROXY}/x"),
        ("mlflow-artifacts://other:9/x", "sqlite:///k.db", f"http://other:9{PROXY}/x"),
        (f"http://h:1{PROXY}/0/r/", None, f"http://h:1{PROXY}/0/r"),
    ],
)
def test_resolution_follows_mlflow(
    artifact_uri: str, tracking_uri: str | None, expected: str
) -> None:
    assert resolve_artifact_url(artifact_uri, tracking_uri) == expected


@pytest.mark.parametrize("tracking_uri", [None, "sqlite:///tmp/kiln.db", "/tmp/mlruns"])
def test_a_hostless_uri_needs_a_server_as_tracking_uri(tracking_uri: str | None) -> None:
    with pytest.raises(InvalidUri, match="KILN_TRACKING_URI=http"):
        resolve_artifact_url("mlflow-artifacts:/0/r/artifacts", tracking_uri)


def test_the_refusal_hides_credentials_of_the_tracking_uri() -> None:
    with pytest.raises(InvalidUri, match="tracking URI is 'postgresql://db/k'") as caught:
        resolve_artifact_url("mlflow-artifacts:/x", "postgresql://user:secret@db/k?pw=s")
    assert "secret" not in caught.value.message


def test_a_port_without_a_host_is_refused() -> None:
    with pytest.raises(InvalidUri, match=r"port .* but no host"):
        resolve_artifact_url("mlflow-artifacts://5000/x", "http://h")


def test_split_gives_origin_service_and_root() -> None:
    assert split_service_url(f"http://h:1/ml{PROXY}/0/r") == ("http://h:1", f"/ml{PROXY}", "0/r")
    assert split_service_url(f"https://h{PROXY}") == ("https://h", PROXY, "")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://h:1/somewhere/else", "artifact proxy"),
        (f"http://h:1{PROXY}extra/x", "artifact proxy"),
        (f"http://h:1{PROXY}/x?a=1", "no query"),
        (f"http://h:1{PROXY}/../../etc", "'..' segments"),
        (f"http://h:1{PROXY}/%2e%2e/etc", "percent-escape"),
        (f"http://{PROXY}/x", "host"),
    ],
)
def test_split_refuses_other_urls(url: str, why: str) -> None:
    with pytest.raises(InvalidUri, match=why):
        split_service_url(url)


def test_a_hostile_root_is_refused_when_the_store_is_opened() -> None:
    with pytest.raises(InvalidUri, match=r"'\.\.' segments"):
        HttpArtifactStore("mlflow-artifacts:/0/../../etc", tracking_uri="http://h:1")


def test_open_artifact_store_picks_the_proxy_store_for_each_scheme() -> None:
    proxied = open_artifact_store("mlflow-artifacts:/0/r/artifacts", tracking_uri="http://h:1")
    direct = open_artifact_store(f"https://h:2{PROXY}/0/r")
    assert isinstance(proxied, HttpArtifactStore)
    assert proxied.url == f"http://h:1{PROXY}/0/r/artifacts"
    assert proxied.root_uri == "mlflow-artifacts:/0/r/artifacts"
    assert isinstance(direct, HttpArtifactStore)
    assert direct.url == f"https://h:2{PROXY}/0/r"


def test_open_artifact_store_without_a_tracking_uri_says_what_to_set() -> None:
    with pytest.raises(InvalidUri, match="cannot resolve the artifact URI"):
        open_artifact_store("mlflow-artifacts:/0/r/artifacts")
