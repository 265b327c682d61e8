"""Registry filter grammar, order_by, page tokens and validation."""

from __future__ import annotations

import pytest

from kiln.entities import ModelVersionStage
from kiln.errors import InvalidInput
from kiln.store.query.page_token import decode_page_token, encode_page_token
from kiln.store.query.registry import (
    RegistryClause,
    parse_registry_filter,
    parse_registry_order_by,
    queries_prompts,
)
from kiln.store.rules.registry import (
    canonical_stage,
    validate_model_name,
    validate_registry_tag,
    validate_version,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'a'", [RegistryClause("attribute", "name", "=", "a")]),
        ('name="it""s"', [RegistryClause("attribute", "name", "=", 'it"s')]),
        ("name ilike '%A%'", [RegistryClause("attribute", "name", "ILIKE", "%A%")]),
        ("name not in ('a','b')", [RegistryClause("attribute", "name", "NOT IN", ("a", "b"))]),
        ("tags.`my key` != 'x'", [RegistryClause("tag", "my key", "!=", "x")]),
        (
            "name = 'a and b' AND tags.t LIKE 'v%'",
            [
                RegistryClause("attribute", "name", "=", "a and b"),
                RegistryClause("tag", "t", "LIKE", "v%"),
            ],
        ),
    ],
)
def test_parse_model_filter(text: str, expected: list[RegistryClause]) -> None:
    assert parse_registry_filter(text, for_versions=False) == expected


def test_parse_version_filter() -> None:
    assert parse_registry_filter("version_number > 3 AND run_id IN ('r')", for_versions=True) == [
        RegistryClause("attribute", "version_number", ">", 3),
        RegistryClause("attribute", "run_id", "IN", ("r",)),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'a", "unterminated quote"),
        ("name < 'a'", "Invalid comparator"),
        ("tags.t IN ('a')", "Invalid comparator for tag"),
        ("version_number = 'x'", "numeric attribute"),
        ("name IN 'a'", "needs a list"),
        ("name IN ()", "at least one quoted string"),
        ("name", "cannot parse"),
    ],
)
def test_bad_filters(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_registry_filter(text, for_versions=True)


def test_prompt_queries() -> None:
    asks = parse_registry_filter("tags.`mlflow.prompt.is_prompt` = 'true'", for_versions=False)
    assert queries_prompts(asks)
    assert not queries_prompts(parse_registry_filter("name = 'x'", for_versions=False))


def test_order_by() -> None:
    assert parse_registry_order_by(["timestamp DESC"], for_versions=False) == [
        ("last_updated_timestamp", False),
        ("name", True),
    ]
    assert parse_registry_order_by(["version_number"], for_versions=True) == [
        ("version", True),
        ("name", True),
    ]
    with pytest.raises(InvalidInput, match="duplicate"):
        parse_registry_order_by(["name", "name DESC"], for_versions=False)
    with pytest.raises(InvalidInput, match="ASC or DESC"):
        parse_registry_order_by(["name UP"], for_versions=False)


def test_page_tokens() -> None:
    assert decode_page_token(encode_page_token(40)) == 40
    assert decode_page_token(None) == 0
    with pytest.raises(InvalidInput, match="invalid page token"):
        decode_page_token("not-base64!")


def test_validation() -> None:
    assert validate_version("12") == 12
    with pytest.raises(InvalidInput, match="integer"):
        validate_version(True)
    assert canonical_stage("staging") is ModelVersionStage.STAGING
    with pytest.raises(InvalidInput, match="cannot contain"):
        validate_model_name("a/b")
    assert validate_registry_tag("k", None) == ("k", "")
    with pytest.raises(InvalidInput, match="100000"):
        validate_registry_tag("k", "x" * 100_001)


@pytest.mark.parametrize(
    "name", [".", "..", "...", "../a", "a/..", "./a", "a..b", ". ", " ..", "%2E"]
)
def test_model_names_are_refused_exactly_where_mlflow_refuses_them(name: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_name

    try:
        _validate_model_name(name)
    except MlflowException:
        with pytest.raises(InvalidInput, match=r"not a unique path|cannot contain"):
            validate_model_name(name)
    else:
        assert validate_model_name(name) == name


def test_version_must_be_ascii_digits_within_int64() -> None:
    assert validate_version(str(2**63 - 1)) == 2**63 - 1
    with pytest.raises(InvalidInput, match="out of the int64 range"):
        validate_version(str(2**80))
    with pytest.raises(InvalidInput, match="out of the int64 range"):
        validate_version(2**63)
    with pytest.raises(InvalidInput, match="must be an integer"):
        validate_version("٣")
