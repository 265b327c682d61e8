"""Field readers refuse what protobuf refuses with ``InvalidInput`` (a 400), never crash.

Each case here was a 500 found by fuzzing the server (tests/integration/test_schemathesis.py).
"""

from __future__ import annotations

import pytest

from kiln.errors import InvalidInput
from kiln.wire.fields import INT64_MAX, INT64_MIN, as_float, as_int, opt_enum


def test_int64_bounds_are_accepted_and_beyond_them_refused() -> None:
    assert as_int(INT64_MAX, "t") == INT64_MAX
    assert as_int(str(INT64_MIN), "t") == INT64_MIN
    with pytest.raises(InvalidInput, match="'t' is out of the int64 range"):
        as_int(INT64_MAX + 1, "t")
    with pytest.raises(InvalidInput, match="out of the int64 range"):
        as_int(str(INT64_MIN - 1), "t")
    with pytest.raises(InvalidInput, match="out of the int64 range"):
        as_int(1e30, "t")


def test_non_ascii_digits_are_not_integers() -> None:
    # "³".isdigit() is true but int("³") raises ValueError
    with pytest.raises(InvalidInput, match="must be an integer"):
        as_int("³", "step")
    with pytest.raises(InvalidInput, match="must be an integer"):
        as_int("-٣", "step")
    with pytest.raises(InvalidInput, match="must be one of"):
        opt_enum({"view_type": "³"}, "view_type", {1: "ACTIVE_ONLY"})


def test_an_integer_beyond_the_double_range_is_refused() -> None:
    assert as_float(10**300, "value") == 1e300
    with pytest.raises(InvalidInput, match="'value' is out of the double range"):
        as_float(10**400, "value")
