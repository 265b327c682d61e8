"""The one error tree: each class's MLflow code, HTTP status and exit code, written once."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import kiln
import kiln.errors
from kiln.errors import KilnError

# name -> (error_code, http_status, exit_code); the servers and the CLI read these.
ANSWERS: dict[str, tuple[str, int, int]] = {
    "KilnError": ("INTERNAL_ERROR", 500, 1),
    "InvalidInput": ("INVALID_PARAMETER_VALUE", 400, 2),
    "InvalidUri": ("INVALID_PARAMETER_VALUE", 400, 2),
    "NotReproducible": ("INVALID_PARAMETER_VALUE", 400, 2),
    "BadInput": ("BAD_REQUEST", 400, 2),
    "UnsupportedMediaType": ("BAD_REQUEST", 415, 2),
    "BodyTooLarge": ("REQUEST_LIMIT_EXCEEDED", 413, 2),
    "NotFound": ("RESOURCE_DOES_NOT_EXIST", 404, 3),
    "UnknownModel": ("RESOURCE_DOES_NOT_EXIST", 404, 3),
    "AlreadyExists": ("RESOURCE_ALREADY_EXISTS", 400, 4),
    "Conflict": ("INVALID_PARAMETER_VALUE", 400, 4),
    "DataChanged": ("INVALID_PARAMETER_VALUE", 400, 4),
    "PermissionDenied": ("PERMISSION_DENIED", 403, 5),
    "Unauthenticated": ("UNAUTHENTICATED", 401, 5),
    "StoreUnavailable": ("TEMPORARILY_UNAVAILABLE", 503, 6),
    "DriverMissing": ("TEMPORARILY_UNAVAILABLE", 503, 6),
    "Overloaded": ("TEMPORARILY_UNAVAILABLE", 503, 6),
    "PredictionFailed": ("BAD_REQUEST", 400, 1),
    "SourceUnavailable": ("INVALID_PARAMETER_VALUE", 400, 7),
    "EnvironmentUnavailable": ("INVALID_PARAMETER_VALUE", 400, 7),
    "EnvironmentBuildFailed": ("INVALID_PARAMETER_VALUE", 400, 7),
    "CheckFailed": ("INTERNAL_ERROR", 500, 1),
    "AnswerMismatch": ("INTERNAL_ERROR", 500, 1),
    "ExampleFailed": ("INTERNAL_ERROR", 500, 1),
    "ServingFailed": ("INTERNAL_ERROR", 500, 1),
    "DemoFailed": ("INTERNAL_ERROR", 500, 1),
    "RequirementsMissing": ("INTERNAL_ERROR", 500, 1),
}


def _subclasses(cls: type[KilnError]) -> Iterator[type[KilnError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_class_carries_its_answers() -> None:
    assert sorted(kiln.errors.__all__) == sorted(ANSWERS)
    for name, answers in ANSWERS.items():
        cls = getattr(kiln.errors, name)
        assert issubclass(cls, KilnError), name
        assert (cls.error_code, cls.http_status, cls.exit_code) == answers, name


def test_the_message_is_the_string() -> None:
    error = kiln.errors.BadInput("'inputs' must be a list")
    assert (str(error), error.message) == ("'inputs' must be a list",) * 2


def test_no_error_class_lives_outside_kiln_errors() -> None:
    """Import every module of Kiln (not ``__main__``s, not the alembic env script) and
    look for a KilnError subclass defined anywhere else: there must be none."""
    for module in pkgutil.walk_packages(kiln.__path__, "kiln."):
        if module.name.endswith("__main__") or ".migrations" in module.name:
            continue
        importlib.import_module(module.name)
    elsewhere = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _subclasses(KilnError)
        if cls.__module__.startswith("kiln.") and cls.__module__ != "kiln.errors"
    }
    assert elsewhere == set()
