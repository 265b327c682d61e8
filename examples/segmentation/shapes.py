"""A seeded generator of grey-scale images of shapes with their segmentation masks.

Each square image (48x48 by default) holds one to three filled shapes -- circles,
squares and triangles of random size, position and brightness -- on a noisy
background. Its mask gives every pixel a class: 0 background, 1 circle, 2 square,
3 triangle (a later shape covers an earlier one). Brightness is random per shape,
so only the outline tells the classes apart. The same seed gives the same images
on every machine.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("background", "circle", "square", "triangle")
SIZE = 48


def _circle(ys: np.ndarray, xs: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    inside: np.ndarray = (ys - cy) ** 2 + (xs - cx) ** 2 <= r**2
    return inside


def _square(ys: np.ndarray, xs: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    inside: np.ndarray = (np.abs(ys - cy) <= r) & (np.abs(xs - cx) <= r)
    return inside


def _triangle(ys: np.ndarray, xs: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    """An upright isosceles triangle with its apex ``r`` above the centre."""
    top, bottom = cy - r, cy + r
    half_width = (ys - top) / (2 * r) * r * 1.1  # grows from 0 at the apex
    inside: np.ndarray = (ys >= top) & (ys <= bottom) & (np.abs(xs - cx) <= half_width)
    return inside


_DRAW = (_circle, _square, _triangle)


def generate(count: int, seed: int, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images ``[count, 1, size, size]`` (float32) and masks ``[count, size, size]``."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    images = rng.normal(0.0, 0.08, size=(count, 1, size, size)).astype(np.float32)
    masks = np.zeros((count, size, size), dtype=np.int64)
    for i in range(count):
        for _ in range(rng.integers(1, 4)):
            kind = int(rng.integers(0, 3))
            r = float(rng.uniform(6, 14))
            cy, cx = rng.uniform(r, size - r, size=2)
            inside = _DRAW[kind](ys, xs, float(cy), float(cx), r)
            images[i, 0][inside] = rng.uniform(0.5, 1.0) + rng.normal(0, 0.05, inside.sum())
            masks[i][inside] = kind + 1
    return images, masks


__all__ = ["CLASSES", "SIZE", "generate"]
