"""Pictures from outside read the way a dataset of photos reads them: opened only in formats
Pillow decodes itself, their pixel count checked from the header before any decoding, then made
one size and mode as torchvision's ``Resize`` + ``CenterCrop`` make them (scaled with Pillow's
bilinear filter to cover the size, the middle cut out). The image_folder plugin prepares its
pictures with these, and ``zoo predict`` reads a photo model's pictures with them: one way."""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..errors import DataError

#: What Pillow opens here (it opens others too, some through external programs: never here).
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
#: The most pixels a picture may declare (8192 x 8192): larger is refused before decoding.
MAX_PIXELS = 1 << 26
#: Pillow modes that are grey (the rest have colour).
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def open_picture(source: Any, label: str | None = None) -> Any:
    """A picture (a path or a file object) opened, not decoded: a Pillow image whose pixel count
    its header gave and was checked. Close it (``with``)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(source, formats=FORMATS)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise DataError(
                f"{label or source}: a picture larger than zoo reads ({MAX_PIXELS:,} pixels, "
                "8192 x 8192)"
            ) from exc
    width, height = image.size
    if width * height > MAX_PIXELS or width < 1 or height < 1:
        image.close()
        raise DataError(
            f"{label or source}: {width:,} x {height:,} pixels, a picture larger than zoo reads "
            f"({MAX_PIXELS:,} pixels, 8192 x 8192)"
        )
    return image


def is_grey(image: Any) -> bool:
    """Whether an opened picture has no colour (by its mode, or a palette of greys)."""
    if image.mode in GREY_MODES:
        return True
    if image.mode not in ("P", "PA"):
        return False
    try:
        colours = image.getpalette() or []
    except (ValueError, OSError):
        return False
    return all(colours[i] == colours[i + 1] == colours[i + 2] for i in range(0, len(colours), 3))


def photo(image: Any, size: tuple[int, int], grey: bool) -> Any:
    """An opened picture decoded to a uint8 array ``[C, H, W]`` of ``size`` (height, width):
    grey (``L``) or RGB as Pillow converts, scaled to cover ``size``, centre-cropped. A JPEG much
    larger than ``size`` is decoded at a fraction of its size (its draft mode)."""
    import numpy as np
    from PIL import Image

    height, width = size
    scale = max(height / image.height, width / image.width)
    if image.format == "JPEG" and scale < 0.5:
        wanted = (math.ceil(image.width * scale), math.ceil(image.height * scale))
        image.draft("L" if grey else "RGB", wanted)
        scale = max(height / image.height, width / image.width)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image.load()  # decodes it: a truncated file raises
        target = "L" if grey else "RGB"
        picture = image if image.mode == target else image.convert(target)
    if picture.size != (width, height):
        cover = (max(width, int(picture.width * scale)), max(height, int(picture.height * scale)))
        picture = picture.resize(cover, Image.Resampling.BILINEAR)
        left = int(round((picture.width - width) / 2.0))
        top = int(round((picture.height - height) / 2.0))
        picture = picture.crop((left, top, left + width, top + height))
    pixels = np.array(picture, dtype=np.uint8)  # its own, writable copy
    return pixels[None] if grey else np.ascontiguousarray(pixels.transpose(2, 0, 1))
