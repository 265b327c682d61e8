"""The data side of Keras autolog: the batch size of a fit and its dataset inputs.

``batch_size`` is read as MLflow reads it: the keyword argument, else the
training data's ``batch_size`` or ``_batch_size`` (a ``tf.data`` batched
dataset), else the first batch of a generator (which is put back in front, so
the fit still sees every batch). The training data is logged with context
``train`` and a ``validation_data`` keyword argument with context ``eval``:
numpy arrays and TensorFlow tensors by content (features and targets), a
``tf.data.Dataset`` by its first elements; anything else is a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from kiln.entities import Dataset

# A tf.data.Dataset is digested over its first elements, each by its first values
# (MLflow reads every element; a streamed dataset may be endless).
DATASET_DIGEST_ELEMENTS = 1000
DIGEST_VALUES = 10_000


def _is_iterator(value: Any) -> bool:
    return isinstance(value, Iterator)


def _training_data(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    return kwargs["x"] if "x" in kwargs else (args[0] if args else None)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    """A generator (Keras takes generators, not any iterator) of ``first`` then ``rest``."""
    yield first
    yield from rest


def infer_batch_size(
    model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """(batch size or None, args, kwargs): a generator's peeked batch is put back."""
    if "batch_size" in kwargs:
        return kwargs["batch_size"], args, kwargs
    data = _training_data(args, kwargs)
    size = getattr(data, "batch_size", None)
    if size:
        return size, args, kwargs
    size = getattr(data, "_batch_size", None)
    if size:
        return (size if isinstance(size, int) else int(size.numpy())), args, kwargs
    if not _is_iterator(data):
        return None, args, kwargs
    first = next(data)
    single_input = isinstance(model.input_shape, tuple)
    size = len(first[0]) if single_input else len(first[0][0])
    data = _chain(first, data)
    if "x" in kwargs:
        return size, args, {**kwargs, "x": data}
    return size, (data, *args[1:]), kwargs


def _tensorflow() -> Any:
    import sys

    return sys.modules.get("tensorflow")  # data from TensorFlow means it is imported


def _numpy(value: Any) -> Any:
    tf = _tensorflow()
    if tf is not None and isinstance(value, tf.Tensor):
        return value.numpy()
    return value


def _tf_dataset(data: Any) -> Dataset:
    """A ``tf.data.Dataset``: schema from its element spec, digest over its first elements."""
    import numpy as np

    from kiln.models.autolog.sklearn_content import _source

    tf = _tensorflow()
    sha = hashlib.sha256(str(data.element_spec).encode())
    for element in data.take(DATASET_DIGEST_ELEMENTS):
        values = np.concatenate([np.ravel(part.numpy()) for part in tf.nest.flatten(element)])
        sha.update(np.ascontiguousarray(values[:DIGEST_VALUES]).tobytes())
    specs = [
        {"dtype": spec.dtype.name, "shape": [-1 if d is None else d for d in spec.shape.as_list()]}
        for spec in tf.nest.flatten(data.element_spec)
    ]
    schema = {"features": json.dumps([{"type": "tensor", "tensor-spec": s} for s in specs])}
    profile = {"num_rows": int(data.cardinality().numpy())}
    return Dataset(
        "dataset",
        sha.hexdigest()[:8],
        "code",
        _source(),
        json.dumps({"mlflow_tensorspec": schema}),
        json.dumps(profile),
    )


def dataset_of(data: Any, targets: Any = None) -> Dataset | None:
    """The dataset input MLflow's Keras autolog logs for ``data``; None when unsupported."""
    from kiln.models.autolog.sklearn_content import training_dataset

    tf = _tensorflow()
    if tf is not None and isinstance(data, tf.data.Dataset):
        return _tf_dataset(data)
    if isinstance(data, tuple) and len(data) >= 2:
        data, targets = data[0], data[1]
    import numpy as np

    features = _numpy(data)
    if not isinstance(features, np.ndarray):
        return None
    labels = _numpy(targets)
    return training_dataset(features, labels if isinstance(labels, np.ndarray) else None)


def log_datasets(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], run_id: str, log: logging.Logger
) -> None:
    """The fit's training data (``train``) and ``validation_data`` (``eval``) as run inputs."""
    from kiln.tracking import fluent

    y = kwargs["y"] if "y" in kwargs else (args[1] if len(args) > 1 else None)
    pairs = [(_training_data(args, kwargs), y, "train")]
    if "validation_data" in kwargs:
        pairs.append((kwargs["validation_data"], None, "eval"))
    for data, targets, context in pairs:
        try:
            dataset = dataset_of(data, targets)
            if dataset is None:
                log.warning("unrecognized dataset type %s: dataset not logged", type(data))
                continue
            fluent.log_input(dataset, context=context, run_id=run_id)
        except Exception as exc:
            log.warning("the %s dataset is not logged: %s", context, exc)


__all__ = [
    "DATASET_DIGEST_ELEMENTS",
    "DIGEST_VALUES",
    "dataset_of",
    "infer_batch_size",
    "log_datasets",
]
