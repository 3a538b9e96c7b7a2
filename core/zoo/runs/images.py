"""Pictures from outside as a model's input: the files of a folder that are pictures, and one
picture (a file or its bytes, in any format Pillow reads safely, any size up to
:data:`MAX_PIXELS`) decoded on zoo's own few threads, reduced right away, made grey, sized and
turned light-on-black as MNIST is."""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import files
from ..errors import DataError, ZooError
from ..plugins.cards import MAX_INPUT

#: The picture formats zoo predict reads (Pillow opens others too, some through external
#: programs: never for a file from outside).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM", "JPEG2000")
#: The names pictures in a folder have (``zoo predict WEIGHTS DIR/`` reads those, by name).
IMAGE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2",
)  # fmt: skip
#: The most pictures one prediction reads from folders.
MAX_IMAGES = 10_000
#: The most pixels a picture may have (4096 x 4096): a prediction needs 784 of them; a picture
#: larger than this is refused before it is decoded.
MAX_PIXELS = 1 << 24
#: How many pictures are decoded at once in this process (a 4096 x 4096 RGBA picture is 64 MB
#: decoded): a server answering 40 uploads at a time decodes two of them at a time.
DECODES = 2


def pictures_in(images: Sequence[Any]) -> list[Any]:
    """``images`` with each folder among them replaced by the pictures in it (by their names'
    endings, sorted; hidden files and other files left out, subfolders not entered); anything
    else (a file, a picture's ``(name, bytes)``) as it is."""
    found: list[Any] = []
    for image in images:
        if not isinstance(image, tuple) and Path(image).is_dir():
            image = Path(image)
            inside = sorted(
                p
                for p in image.iterdir()
                if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
                and p.is_file()
            )  # fmt: skip
            if not inside:
                raise DataError(f"{image} holds no pictures ({', '.join(IMAGE_SUFFIXES)})")
            found += inside
        else:
            found.append(image)
        if len(found) > MAX_IMAGES:
            raise DataError(f"more than {MAX_IMAGES:,} pictures: give fewer at a time")
    return found


def read_image(
    path: str | Path | bytes,
    shape: Sequence[int],
    name: str | None = None,
    style: str | None = None,
) -> Any:
    """A picture (a file, or its bytes, named ``name`` in messages: PNG, JPEG..., any size up to
    :data:`MAX_PIXELS`, colour, grey, 16-bit or float, transparent or not) as the model's input
    of ``shape`` (channels, height, width): grey, resized, light on black as MNIST is (a
    transparent background is filled with the colour the ink is not, a light background
    inverted), in [0, 1], flattened like the dataset's rows. A picture of one colour only
    (nothing drawn) is refused: any answer would be a guess. It is decoded at no more than four
    times the model's size where the format allows (JPEG's draft), else reduced right after
    decoding, and at most :data:`DECODES` at a time, on zoo's own threads.

    ``style="photo"`` (a model trained on a dataset of photos, such as a folder of pictures)
    reads it as that dataset read its own: grey or RGB as the model takes, scaled to cover its
    size and centre-cropped (``zoo.data.photo``), nothing inverted."""
    import torch
    from PIL import Image, UnidentifiedImageError

    label = name if name is not None else "(bytes)" if isinstance(path, bytes) else str(path)
    if style == "photo" and len(shape) == 3 and shape[0] in (1, 3):
        return _read_photo(path, shape, label)
    if len(shape) != 3 or shape[0] != 1:
        raise DataError(f"zoo predict reads grey images; this model takes input {tuple(shape)}")
    if math.prod(shape) > MAX_INPUT:
        raise DataError(f"this model takes inputs of {tuple(shape)}: more than zoo reads")
    wanted = (shape[-1] * 4, shape[-2] * 4)
    try:
        if isinstance(path, (bytes, bytearray, memoryview)):
            source: Any = io.BytesIO(path)
        else:
            files.regular(Path(path), f"image {label}")
            source = path
        # decoded by zoo's own few threads: at most that many pictures in memory at once, and
        # the memory a decode frees is reused by the next (a thread of its own for each of 40
        # requests would keep 40 decodes' worth)
        pixels = _decoder().submit(_decode, source, wanted, label).result()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"cannot read image {label}: it is too large ({exc})") from exc
    except DataError:
        raise
    except ZooError as exc:  # not a regular file
        raise DataError(str(exc)) from exc
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read image {label}: {exc}") from exc
    import numpy as np

    if float(pixels.max() - pixels.min()) < 1e-3:
        raise DataError(f"image {label} holds nothing to read (a single colour)")
    resized = Image.fromarray(pixels.astype(np.float32)).resize(
        (shape[-1], shape[-2]), Image.Resampling.LANCZOS
    )
    pixels = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    # The border is the background: light means dark ink on paper (a scan, a drawing), while
    # MNIST-style data is light on black. (The mean would misjudge a large light object.)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 0.5:
        pixels = 1 - pixels
    return torch.from_numpy(np.ascontiguousarray(pixels).reshape(1, -1))


def _read_photo(path: str | Path | bytes, shape: Sequence[int], label: str) -> Any:
    import torch

    if math.prod(shape) > MAX_INPUT:
        raise DataError(f"this model takes inputs of {tuple(shape)}: more than zoo reads")
    if isinstance(path, (bytes, bytearray, memoryview)):
        source: Any = io.BytesIO(path)
    else:
        try:
            files.regular(Path(path), f"image {label}")
        except ZooError as exc:
            raise DataError(str(exc)) from exc
        source = path
    try:
        pixels = _decoder().submit(_photo, source, tuple(shape), label).result()
    except DataError:
        raise
    except Exception as exc:  # whatever a hostile picture makes a decoder raise
        raise DataError(f"cannot read image {label}: {exc}") from exc
    return torch.from_numpy(pixels).float().div_(255).reshape(1, -1)


def _photo(source: Any, shape: tuple[int, ...], label: str) -> Any:
    from ..data.pictures import open_picture, photo

    with open_picture(source, f"image {label}") as image:
        return photo(image, (shape[1], shape[2]), grey=shape[0] == 1)


_DECODER: Any = None
_DECODER_LOCK = threading.Lock()


def _decoder() -> Any:
    """The threads pictures are decoded on (:data:`DECODES` of them), made when first needed."""
    global _DECODER
    with _DECODER_LOCK:
        if _DECODER is None:
            from concurrent.futures import ThreadPoolExecutor

            _DECODER = ThreadPoolExecutor(DECODES, thread_name_prefix="zoo-decode")
        return _DECODER


def _decode(source: Any, size: tuple[int, int], label: str) -> Any:
    """A picture decoded (at no more than ``size`` where it was larger) to grey values."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # an error here
        with Image.open(source, formats=IMAGE_FORMATS) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DataError(
                    f"cannot read image {label}: it is too large ({width:,} x {height:,} "
                    f"pixels; zoo reads pictures of up to {MAX_PIXELS:,})"
                )
            if image.format == "JPEG":  # decoded at a fraction of its size where it can be
                image.draft("RGB", size)
            return _grey(_reduced(image, size))


def _reduced(image: Any, size: tuple[int, int]) -> Any:
    """A decoded picture no larger than ``size`` where it was larger (Pillow's ``reduce``, then
    a resize: the float copies made of it later stay small); its mode and transparency kept."""
    from PIL import Image

    image.load()
    if image.width <= size[0] and image.height <= size[1]:
        return image
    if image.mode == "P" or image.mode in ("1", "LA", "PA", "La"):  # resampled in full colour
        image = image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "L")
    try:
        factor = max(1, min(image.width // size[0], image.height // size[1]))
        smaller = image.reduce(factor) if factor > 1 else image
        scale = min(size[0] / smaller.width, size[1] / smaller.height, 1.0)
        target = (max(1, round(smaller.width * scale)), max(1, round(smaller.height * scale)))
        return smaller.resize(target, Image.Resampling.BOX) if scale < 1 else smaller
    except (ValueError, OSError):  # a mode Pillow cannot resample: read at its full size
        return image


def _grey(image: Any) -> Any:
    """A decoded picture as grey values in [0, 1] (float32, full size)."""
    import numpy as np

    mode = image.mode
    if mode == "F" or mode.startswith("I"):  # float or 16/32-bit pictures: their own range
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all():
            raise DataError("cannot read image: it holds values that are not numbers")
        low, high = float(values.min()), float(values.max())
        if low >= 0 and high <= 1 and mode == "F":
            return values
        top = 65535.0 if mode.startswith("I;16") else 255.0 if high <= 255 else 65535.0
        if low >= 0 and high <= top:
            return values / np.float32(top)
        return (values - low) / np.float32(high - low or 1.0)  # stretched to [0, 1]
    transparent = "A" in image.getbands() or "transparency" in image.info
    if not transparent:
        return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255)
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / np.float32(255)
    grey = np.asarray(rgba.convert("L"), dtype=np.float32) / np.float32(255)
    # Ink on a transparent background (what an HTML canvas exports): the drawing is where the
    # picture is opaque. It is laid on the colour the ink is not, whatever colour the ink has.
    weight = float(alpha.sum())
    ink = float((grey * alpha).sum() / weight) if weight else 0.0
    background = 1.0 if ink < 0.5 else 0.0
    return grey * alpha + np.float32(background) * (1 - alpha)
