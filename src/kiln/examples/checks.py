"""Judging a scoring server's answer to a reference request.

An answer passes when it is HTTP 200 with a JSON body holding exactly the
expected number of predictions (``{"predictions": [...]}``, or a bare list), and
every prediction is a finite number, or a list or mapping of finite numbers
(classifier probabilities, multi-output models, DataFrame rows).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from kiln.errors import AnswerMismatch


def _numbers(prediction: Any) -> list[float]:
    if isinstance(prediction, bool) or prediction is None:
        raise AnswerMismatch(f"prediction {prediction!r} is not a number")
    if isinstance(prediction, int | float):
        return [float(prediction)]
    if isinstance(prediction, list) and prediction:
        return [n for item in prediction for n in _numbers(item)]
    if isinstance(prediction, Mapping) and prediction:
        return [n for item in prediction.values() for n in _numbers(item)]
    raise AnswerMismatch(f"prediction {prediction!r} is not a number or a row of numbers")


def check_answer(status_code: int, body: bytes, expected: int) -> list[float]:
    """The predictions' numbers, flattened, when the answer is as expected.

    Raises:
        AnswerMismatch: the status is not 200, the body is not JSON, the number of
            predictions is not ``expected``, or a value is not a finite number.
    """
    text = body.decode("utf-8", "replace")
    if status_code != 200:
        raise AnswerMismatch(f"HTTP {status_code}: {text[:300]}")
    try:
        parsed = json.loads(text)
    except ValueError:
        raise AnswerMismatch(f"the answer is not JSON: {text[:300]}") from None
    predictions = parsed.get("predictions") if isinstance(parsed, Mapping) else parsed
    if not isinstance(predictions, list):
        raise AnswerMismatch(f"the answer holds no list of predictions: {text[:300]}")
    if len(predictions) != expected:
        raise AnswerMismatch(f"expected {expected} predictions, got {len(predictions)}")
    numbers = [n for prediction in predictions for n in _numbers(prediction)]
    bad = [n for n in numbers if not math.isfinite(n)]
    if bad:
        raise AnswerMismatch(f"predictions are not finite: {bad[:5]}")
    return numbers


__all__ = ["check_answer"]
