"""MLflow's limits on keys, values and batches, checked before anything is written.

Every backend calls these, so each limit is enforced in exactly one place and the
messages are the same whichever store the user holds.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from kiln.entities import Metric, Param, RunTag
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
    validate_key(metric.key, "metric key")
    value = metric.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"metric {metric.key!r} value must be a number, got {value!r}")
    if isinstance(metric.timestamp, bool) or not isinstance(metric.timestamp, int):
        raise InvalidInput(f"metric {metric.key!r} timestamp must be an integer (ms)")
    if isinstance(metric.step, bool) or not isinstance(metric.step, int):
        raise InvalidInput(f"metric {metric.key!r} step must be an integer")
    return metric


def validate_param(param: Param) -> Param:
    validate_key(param.key, "param key")
    if not isinstance(param.value, str):
        raise InvalidInput(f"param {param.key!r} value must be a string")
    if len(param.value) > MAX_PARAM_VAL_LENGTH:
        raise InvalidInput(
            f"param {param.key!r} value is {len(param.value)} characters; "
            f"the limit is {MAX_PARAM_VAL_LENGTH}"
        )
    return param


def validate_tag(tag: RunTag) -> RunTag:
    validate_key(tag.key, "tag key")
    if not isinstance(tag.value, str):
        raise InvalidInput(f"tag {tag.key!r} value must be a string")
    if len(tag.value) > MAX_TAG_VAL_LENGTH:
        raise InvalidInput(
            f"tag {tag.key!r} value is {len(tag.value)} characters; "
            f"the limit is {MAX_TAG_VAL_LENGTH}"
        )
    return tag


def validate_experiment_tag(tag: RunTag) -> RunTag:
    validate_key(tag.key, "experiment tag key")
    if not isinstance(tag.value, str):
        raise InvalidInput(f"experiment tag {tag.key!r} value must be a string")
    if len(tag.value) > MAX_EXPERIMENT_TAG_VAL_LENGTH:
        raise InvalidInput(
            f"experiment tag {tag.key!r} value is {len(tag.value)} characters; "
            f"the limit is {MAX_EXPERIMENT_TAG_VAL_LENGTH}"
        )
    return tag


def validate_batch(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> None:
    """Check a whole batch, limits first, so nothing of a bad batch is written."""
    if len(metrics) > MAX_METRICS_PER_BATCH:
        raise InvalidInput(
            f"a batch may hold at most {MAX_METRICS_PER_BATCH} metrics, got {len(metrics)}; "
            "split it into several log_batch calls"
        )
    if len(params) + len(tags) > MAX_PARAMS_TAGS_PER_BATCH:
        raise InvalidInput(
            f"a batch may hold at most {MAX_PARAMS_TAGS_PER_BATCH} params and tags together, "
            f"got {len(params) + len(tags)}"
        )
    total = len(metrics) + len(params) + len(tags)
    if total > MAX_ENTITIES_PER_BATCH:
        raise InvalidInput(
            f"a batch may hold at most {MAX_ENTITIES_PER_BATCH} entities, got {total}"
        )
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


def validate_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("experiment name must be a non-empty string")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidInput(
            f"experiment name is {len(name)} characters; the limit is {MAX_EXPERIMENT_NAME_LENGTH}"
        )
    return name


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
