"""What a run is called, where its artifacts go, and which enum values and times a
store accepts: the rules every backend applies when it makes or changes a run.

One copy, so the memory and mlruns stores (and any backend that calls these) name
runs the same way and refuse the same input with the same message.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from enum import StrEnum
from typing import TypeVar

from kiln.entities import RUN_NAME_TAG, USER_TAG, LifecycleStage, RunStatus, RunTag, ViewType
from kiln.errors import InvalidInput
from kiln.store.rules.tracking import validate_run_name, validate_tag

_ADJECTIVES = (
    "amber", "bold", "brave", "calm", "clever", "crisp", "dapper", "eager", "gentle",
    "glossy", "honest", "jolly", "keen", "lucid", "merry", "nimble", "placid", "proud",
    "quiet", "rare", "silent", "smooth", "sunny", "swift", "tidy", "vivid", "warm", "witty",
)  # fmt: skip
_NOUNS = (
    "badger", "bat", "bear", "crane", "deer", "dove", "eel", "falcon", "fox", "gnu",
    "hare", "heron", "ibis", "koala", "lark", "lynx", "mole", "newt", "otter", "owl",
    "panda", "quail", "robin", "seal", "shrew", "stork", "toad", "wolf", "yak", "zebra",
)  # fmt: skip

E = TypeVar("E", bound=StrEnum)


def generate_run_name(rng: random.Random | None = None) -> str:
    """An MLflow-style name such as ``"brave-otter-417"``."""
    rng = rng or random.Random()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(0, 999)}"


def join_uri(base: str, *parts: str) -> str:
    """Append path segments to a URI or path with ``/`` (artifact locations)."""
    return "/".join([base.rstrip("/"), *parts])


def run_artifact_uri(experiment_location: str, run_id: str) -> str:
    """Where a run's artifacts go: ``<experiment artifact location>/<run_id>/artifacts``."""
    return join_uri(experiment_location, run_id, "artifacts")


def new_run_tags(
    tags: Sequence[RunTag],
    run_name: str | None,
    user_id: str,
    start_time: object = None,
    rng: random.Random | None = None,
) -> tuple[str, dict[str, str]]:
    """The name and tags of a new run: ``run_name``, else the ``mlflow.runName`` tag,
    else a generated name; the tags carry that name and, unless given, ``mlflow.user``.

    Raises:
        InvalidInput: a bad tag or name, ``run_name`` and the name tag disagree, or
            ``start_time`` is neither None nor milliseconds as an int.
    """
    for tag in tags:
        validate_tag(tag)
    tag_values = {t.key: t.value for t in tags}
    tagged_name = tag_values.get(RUN_NAME_TAG)
    if run_name and tagged_name is not None and tagged_name != run_name:
        raise InvalidInput(
            f"run_name {run_name!r} and tag {RUN_NAME_TAG}={tagged_name!r} disagree; "
            "pass one of them, or the same value in both"
        )
    name = run_name or tagged_name or generate_run_name(rng)
    validate_run_name(name)
    optional_ms(start_time, "start_time")
    tag_values[RUN_NAME_TAG] = name
    if user_id:
        tag_values.setdefault(USER_TAG, user_id)
    return name, tag_values


def _member(kind: type[E], value: object, what: str) -> E:
    try:
        return kind(str(value))
    except ValueError:
        names = ", ".join(v.value for v in kind)
        raise InvalidInput(f"invalid {what} {value!r}: use one of {names}") from None


def as_view_type(value: object) -> ViewType:
    """``value`` as a ``ViewType``. Raises ``InvalidInput`` for an unknown one."""
    return _member(ViewType, value, "view type")


def as_run_status(value: object) -> RunStatus:
    """``value`` as a ``RunStatus``. Raises ``InvalidInput`` for an unknown one."""
    return _member(RunStatus, value, "run status")


def as_lifecycle_stage(value: object) -> LifecycleStage:
    """``value`` as a ``LifecycleStage``. Raises ``InvalidInput`` for an unknown one."""
    return _member(LifecycleStage, value, "lifecycle stage")


def optional_ms(value: object, what: str) -> int | None:
    """``value`` when it is None or milliseconds as an int (a bool is not).

    Raises:
        InvalidInput: anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be milliseconds as an int, got {value!r}")
    return value


__all__ = [
    "generate_run_name",
    "join_uri",
    "as_lifecycle_stage",
    "new_run_tags",
    "optional_ms",
    "run_artifact_uri",
    "as_run_status",
    "as_view_type",
]
