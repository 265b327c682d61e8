"""MLflow's limits on keys, values and batches, checked before anything is written.

Every backend calls these, so each limit is enforced in exactly one place and the
messages are the same whichever store the user holds.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from kiln.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from kiln.errors import InvalidInput

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_RUN_NAME_LENGTH = 250
# Dataset inputs (mlflow/utils/validation.py).
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_TYPE_SIZE = 36
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_EXPERIMENT_ID = re.compile(r"^[0-9]+$")
# MLflow allows alphanumerics, underscores, dashes, periods, spaces, slashes and colons.
_KEY_CHARS = re.compile(r"^[\w\-. /:]+$")


def validate_key(key: object, kind: str = "key") -> str:
    """Check a metric, param or tag key: non-empty, short, and path-safe.

    Valid string keys are remembered: a batch repeats the same few keys a thousand
    times, and re-checking them was half the cost of ``log_batch``.
    """
    if isinstance(key, str) and key in _VALID_KEYS:
        return key
    key = _check_key(key, kind)
    if len(_VALID_KEYS) >= _VALID_KEYS_MAX:
        _VALID_KEYS.clear()
    _VALID_KEYS.add(key)
    return key


_VALID_KEYS: set[str] = set()
_VALID_KEYS_MAX = 8192


def _check_key(key: object, kind: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"{kind} must be a non-empty string, got {key!r}")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise InvalidInput(
            f"{kind} {key[:40]!r}... is {len(key)} characters; the limit is {MAX_ENTITY_KEY_LENGTH}"
        )
    if not _KEY_CHARS.match(key):
        raise InvalidInput(
            f"invalid {kind} {key!r}: keys may contain only alphanumerics, underscores, "
            "dashes, periods, spaces, slashes and colons"
        )
    if posixpath.isabs(key) or posixpath.normpath(key) != key or key.startswith(".."):
        raise InvalidInput(
            f"invalid {kind} {key!r}: keys are used as file names and must not resolve to "
            f"another name (it would resolve to {posixpath.normpath(key)!r})"
        )
    return key


def validate_metric(metric: Metric) -> Metric:
    # Fast path for the common case (a known key, a float, int timestamp and step):
    # a 1,000-metric batch spent a fifth of its time in the general checks below.
    if (
        type(metric.value) is float
        and type(metric.timestamp) is int
        and type(metric.step) is int
        and type(metric.key) is str
        and metric.key in _VALID_KEYS
    ):
        return metric
    validate_key(metric.key, "metric key")
    value = metric.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"metric {metric.key!r} value must be a number, got {value!r}")
    if isinstance(metric.timestamp, bool) or not isinstance(metric.timestamp, int):
        raise InvalidInput(f"metric {metric.key!r} timestamp must be an integer (ms)")
    if isinstance(metric.step, bool) or not isinstance(metric.step, int):
        raise InvalidInput(f"metric {metric.key!r} step must be an integer")
    return metric


def _validate_string_pair(kind: str, key: str, value: object, limit: int) -> None:
    """A param's or tag's key (``validate_key``) and its string value of at most ``limit``."""
    validate_key(key, f"{kind} key")
    if not isinstance(value, str):
        raise InvalidInput(f"{kind} {key!r} value must be a string")
    if len(value) > limit:
        raise InvalidInput(f"{kind} {key!r} value is {len(value)} characters; the limit is {limit}")


def validate_param(param: Param) -> Param:
    _validate_string_pair("param", param.key, param.value, MAX_PARAM_VAL_LENGTH)
    return param


def validate_tag(tag: RunTag) -> RunTag:
    _validate_string_pair("tag", tag.key, tag.value, MAX_TAG_VAL_LENGTH)
    return tag


def validate_experiment_tag(tag: RunTag) -> RunTag:
    _validate_string_pair("experiment tag", tag.key, tag.value, MAX_EXPERIMENT_TAG_VAL_LENGTH)
    return tag


def validate_batch(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> None:
    """Check a whole batch, limits first, so nothing of a bad batch is written.

    MLflow's limits, each counted on its own (``_validate_batch_log_limits``): at
    most 1,000 metrics, 100 params, 100 tags, and 1,000 of them in all.
    """
    _check_batch_limit("metrics", MAX_METRICS_PER_BATCH, len(metrics))
    _check_batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, len(params))
    _check_batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags))
    total = len(metrics) + len(params) + len(tags)
    _check_batch_limit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, total)
    for metric in metrics:
        validate_metric(metric)
    seen: dict[str, str] = {}
    for param in params:
        validate_param(param)
        if param.key in seen and seen[param.key] != param.value:
            raise InvalidInput(f"the batch logs param {param.key!r} twice with different values")
        seen[param.key] = param.value
    for tag in tags:
        validate_tag(tag)


def _check_batch_limit(what: str, limit: int, count: int) -> None:
    """Refuse an over-full batch with MLflow's own message (clients may match on it)."""
    if count > limit:
        raise InvalidInput(
            f"A batch logging request can contain at most {limit} {what}. Got {count} "
            f"{what}. Please split up {what} across multiple requests and try again."
        )


def validate_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("experiment name must be a non-empty string")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidInput(
            f"experiment name is {len(name)} characters; the limit is {MAX_EXPERIMENT_NAME_LENGTH}"
        )
    return name


def validate_new_experiment(name: object, tags: Sequence[RunTag]) -> None:
    """A new experiment's name and tags, all checked before a backend writes any."""
    validate_experiment_name(name)
    for tag in tags:
        validate_experiment_tag(tag)


def validate_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidInput(f"invalid run id {run_id!r}: expected 32 lowercase hex characters")
    return run_id


def validate_experiment_id(experiment_id: object) -> str:
    if not isinstance(experiment_id, str) or not _EXPERIMENT_ID.match(experiment_id):
        raise InvalidInput(f"invalid experiment id {experiment_id!r}: expected a decimal number")
    return experiment_id


def validate_run_name(run_name: str) -> str:
    if len(run_name) > MAX_RUN_NAME_LENGTH:
        raise InvalidInput(
            f"run name is {len(run_name)} characters; the limit is {MAX_RUN_NAME_LENGTH}"
        )
    return run_name


def _check_size(value: object, what: str, limit: int, *, required: bool) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {value!r}")
    if required and not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters; the limit is {limit}")


def validate_dataset(dataset: Dataset) -> Dataset:
    """Check a dataset against MLflow's size limits; name, digest and source type
    must be non-empty strings."""
    if not isinstance(dataset, Dataset):
        raise InvalidInput(f"expected a Dataset, got {dataset!r}")
    _check_size(dataset.name, "dataset name", MAX_DATASET_NAME_SIZE, required=True)
    _check_size(dataset.digest, "dataset digest", MAX_DATASET_DIGEST_SIZE, required=True)
    _check_size(
        dataset.source_type, "dataset source_type", MAX_DATASET_SOURCE_TYPE_SIZE, required=True
    )
    _check_size(dataset.source, "dataset source", MAX_DATASET_SOURCE_SIZE, required=False)
    if dataset.schema is not None:
        _check_size(dataset.schema, "dataset schema", MAX_DATASET_SCHEMA_SIZE, required=False)
    if dataset.profile is not None:
        _check_size(dataset.profile, "dataset profile", MAX_DATASET_PROFILE_SIZE, required=False)
    return dataset


def validate_input_tag(tag: InputTag) -> InputTag:
    if not isinstance(tag, InputTag):
        raise InvalidInput(f"expected an InputTag, got {tag!r}")
    _check_size(tag.key, "input tag key", MAX_INPUT_TAG_KEY_SIZE, required=True)
    _check_size(tag.value, f"input tag {tag.key!r} value", MAX_INPUT_TAG_VALUE_SIZE, required=False)
    return tag


def validate_dataset_inputs(inputs: Sequence[DatasetInput]) -> list[DatasetInput]:
    """Check dataset inputs; return them without repeats of a ``(name, digest)``.

    The first input of each ``(name, digest)`` is kept, as MLflow's SQL store does.
    An input may not carry two tags with the same key.

    Raises:
        InvalidInput: not a sequence of ``DatasetInput``, a value over MLflow's
            limits, an empty name/digest/source type, or a repeated tag key.
    """
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise InvalidInput(f"datasets must be a list of DatasetInput, got {inputs!r}")
    kept: dict[tuple[str, str], DatasetInput] = {}
    for item in inputs:
        if not isinstance(item, DatasetInput):
            raise InvalidInput(f"expected a DatasetInput, got {item!r}")
        validate_dataset(item.dataset)
        keys: set[str] = set()
        for tag in item.tags:
            validate_input_tag(tag)
            if tag.key in keys:
                raise InvalidInput(f"dataset {item.dataset.name!r} input has tag {tag.key!r} twice")
            keys.add(tag.key)
        kept.setdefault((item.dataset.name, item.dataset.digest), item)
    return list(kept.values())
