"""SQL ``LIKE`` / ``ILIKE`` as a Python regex, for the stores that match in Python.

One translation for every kind, anchored at both ends (``\\A`` ... ``\\Z``) so that a
pattern must cover the whole value, as in SQL and MLflow: ``'abc'`` does not match
``"abc\\n"`` (a ``$`` anchor would). ``%`` is any run of characters (newlines too),
``_`` exactly one; there is no escape character, so a backslash is a literal one.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=512)
def like_to_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    """Compile a LIKE pattern (ILIKE when ``case_insensitive``); ``.match`` tests the
    whole string."""
    pieces = ["\\A"]
    for char in pattern:
        if char == "%":
            pieces.append(".*")
        elif char == "_":
            pieces.append(".")
        else:
            pieces.append(re.escape(char))
    pieces.append("\\Z")
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile("".join(pieces), flags)


def like(value: str, pattern: str, *, case_insensitive: bool = False) -> bool:
    """Whether ``value`` matches the LIKE (or ILIKE) ``pattern``."""
    return like_to_regex(pattern, case_insensitive).match(value) is not None


__all__ = ["like", "like_to_regex"]
