"""Rules every logged-model backend applies to a write (MLflow 3 logged models).

The key and value checks still live beside the Protocol
(``kiln.store.protocols.logged_models``); this module holds the rules that compare
a write with what is stored, so each backend refuses the same writes with the same
message.
"""

from __future__ import annotations

from collections.abc import Mapping

from kiln.errors import Conflict


def new_params(
    model_id: str, stored: Mapping[str, str], params: Mapping[str, str]
) -> dict[str, str]:
    """The ``params`` not yet stored; logging a stored param again with its value is a
    no-op (a retry), with another value a ``Conflict`` (params are write-once).

    Raises:
        Conflict: a param of ``stored`` would change; MLflow's message, which
            clients may match on.
    """
    fresh: dict[str, str] = {}
    for key, value in params.items():
        old = stored.get(key)
        if old is None:
            fresh[key] = value
        elif old != value:
            raise Conflict(
                f"Changing param values is not allowed. Param with key={key!r} was "
                f"already logged with value={old!r} for model {model_id!r}; "
                f"the new value was {value!r}."
            )
    return fresh


__all__ = ["new_params"]
