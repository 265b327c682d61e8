"""Images for ``log_image``: ``kiln.Image`` (MLflow's ``mlflow.Image``) and MLflow 3's layout.

``log_image(image, "x.png")`` saves one file, as MLflow 2 did. ``log_image(image,
key="k", step=s)`` writes what MLflow 3's UI reads as a time-stepped image chart:
``images/<key>+step+<s>+timestamp+<ms>+<uuid>.png`` and a copy at most 256 pixels
on its longer side, ``...+compressed.webp``, and tags the run ``mlflow.loggedImages``
(``/`` in a key becomes ``~``). numpy and Pillow load only when an image is logged.
"""

from __future__ import annotations

import posixpath
import re
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image as PILImage

    from kiln.tracking.client import KilnClient

LOGGED_IMAGES_TAG = "mlflow.loggedImages"
COMPRESSED_IMAGE_SIZE = 256  # MLflow's: the longer side of the compressed copy
IMAGES_FOLDER = "images"
_KEY = re.compile(r"^[a-zA-Z0-9_\-./ ]+$")  # MLflow's allowed key characters


class Image:
    """MLflow's ``mlflow.Image``: a numpy array, PIL image, pixel list or file path, kept
    as a PIL image, for ``kiln.log_image``."""

    def __init__(self, image: Any) -> None:
        import numpy as np
        from PIL import Image as PIL

        if isinstance(image, (str, Path)):
            self.image: PILImage = PIL.open(image)
            self.image.load()  # reads the pixels and closes the file
        elif isinstance(image, (list, np.ndarray)):
            self.image = pil_image(np.array(image))
        elif isinstance(image, PIL.Image):
            self.image = image
        else:
            raise InvalidInput(
                f"kiln.Image needs a numpy array, a PIL image, a list of pixels or a file "
                f"path, not a {type(image).__name__}"
            )
        self.size: tuple[int, int] = self.image.size

    def to_list(self) -> list[Any]:
        """The pixel values, row by row (a tuple per pixel for multi-band images)."""
        flattened = getattr(self.image, "get_flattened_data", None)  # Pillow >= 12.1
        return list(flattened() if flattened is not None else self.image.getdata())

    def to_array(self) -> np.ndarray:
        import numpy as np

        return np.array(self.image)

    def to_pil(self) -> PILImage:
        return self.image

    def save(self, path: str | Path) -> None:
        self.image.save(path)

    def resize(self, size: tuple[int, int]) -> Image:
        """A resized copy."""
        return Image(self.image.resize(size))


def pil_image(image: Any) -> PILImage:
    """A PIL image from a ``kiln.Image``, a PIL image or a numpy array (floats in [0, 1],
    0-255 integers or booleans).

    Raises:
        InvalidInput: another type, shape or dtype, or values out of range.
    """
    import numpy as np
    from PIL import Image as PIL

    if isinstance(image, Image):
        return image.to_pil()
    if isinstance(image, PIL.Image):
        return image
    if not isinstance(image, np.ndarray):
        raise InvalidInput(
            f"log_image needs a numpy array, a PIL image or a kiln.Image, "
            f"not a {type(image).__name__}"
        )
    array = image
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidInput(
            f"cannot log an image of shape {image.shape}: use (H, W), (H, W, 1), "
            "(H, W, 3) or (H, W, 4)"
        )
    if array.dtype.kind == "f":
        if array.min() < 0 or array.max() > 1:
            raise InvalidInput("a float image's values must be within [0, 1]")
        array = array * 255
    elif array.dtype.kind in "iu":
        if array.min() < 0 or array.max() > 255:
            raise InvalidInput("an integer image's values must be within [0, 255]")
    elif array.dtype.kind != "b":
        raise InvalidInput(f"cannot log an image of dtype {array.dtype}")
    return PIL.fromarray(np.asarray(array * (255 if array.dtype.kind == "b" else 1), np.uint8))


def compressed(image: PILImage, max_size: int = COMPRESSED_IMAGE_SIZE) -> PILImage:
    """``image`` scaled so its longer side is ``max_size``, aspect kept (MLflow's rule)."""
    width, height = image.size
    if width > height:
        return image.resize((max_size, int(height * (max_size / width))))
    return image.resize((int(width * (max_size / height)), max_size))


def log_image(
    client: KilnClient,
    run_id: str,
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
) -> None:
    """Log ``image`` to ``run_id`` as one file, or as MLflow 3's time-stepped pair.

    Raises:
        InvalidInput: both or neither of ``artifact_file`` and ``key``, a key with
            characters MLflow refuses, a format Pillow cannot write, or an image
            ``pil_image`` cannot convert.
    """
    if artifact_file is not None and any(a is not None for a in (key, step, timestamp)):
        raise InvalidInput("pass artifact_file, or key with step and timestamp, not both")
    if artifact_file is None and key is None:
        raise InvalidInput(
            "pass exactly one of artifact_file (a static image) or key (an image chart)"
        )
    picture = pil_image(image)
    if artifact_file is not None:
        _save(client, run_id, {artifact_file: picture})
        return
    assert key is not None
    if not _KEY.match(key):
        raise InvalidInput(
            f"the image key {key!r} may only contain alphanumerics, underscores (_), "
            "dashes (-), periods (.), spaces ( ) and slashes (/)"
        )
    when = timestamp or client.now()
    stem = f"{IMAGES_FOLDER}/{key.replace('/', '~')}+step+{step or 0}+timestamp+{when}"
    stem += f"+{uuid.uuid4()}"
    _save(client, run_id, {f"{stem}.png": picture, f"{stem}+compressed.webp": compressed(picture)})
    client.set_tag(run_id, LOGGED_IMAGES_TAG, "True")


def _save(client: KilnClient, run_id: str, files: dict[str, PILImage]) -> None:
    """Write each image to its artifact path (the format its extension names)."""
    for artifact_file, picture in files.items():
        with tempfile.TemporaryDirectory(prefix="kiln-image-") as tmp:
            local = Path(tmp) / posixpath.basename(artifact_file)
            try:
                picture.save(local)
            except (KeyError, ValueError, OSError) as exc:  # no such extension or mode
                raise InvalidInput(f"cannot save an image as {artifact_file!r}: {exc}") from exc
            folder = posixpath.dirname(posixpath.normpath(artifact_file)) or None
            client.log_artifact(run_id, local, folder)


__all__ = ["COMPRESSED_IMAGE_SIZE", "LOGGED_IMAGES_TAG", "Image", "compressed", "log_image"]
