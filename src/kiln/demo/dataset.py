"""The vendored UCI wine-quality data set (red + white, 6,497 rows).

Attribution and licence: ``data/NOTICE.md`` (P. Cortez et al., 2009; CC BY 4.0).
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

DATA_FILE = "winequality.csv.gz"
TARGET = "quality"
FEATURES = (
    "fixed acidity",
    "volatile acidity",
    "citric acid",
    "residual sugar",
    "chlorides",
    "free sulfur dioxide",
    "total sulfur dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
)
"""The 11 physico-chemical inputs, exactly the columns of the reference scoring request."""


def load_wine_quality() -> pd.DataFrame:
    """The data with the UCI column names, ``color`` ("red"/"white") and ``is_red`` (0/1)."""
    import pandas as pd

    source = resources.files("kiln.demo").joinpath("data", DATA_FILE)
    with source.open("rb") as stream:
        frame = pd.read_csv(stream, compression="gzip")
    frame["is_red"] = (frame["color"] == "red").astype("int64")
    return frame


__all__ = ["DATA_FILE", "FEATURES", "TARGET", "load_wine_quality"]
