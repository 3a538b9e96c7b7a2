"""The verified source files (the tutorial's pickle, or the four IDX files) parsed into the
dataset's arrays: the tutorial's 50,000 / 10,000 split, labels checked, pixels kept as uint8
where that loses nothing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import zoo

from . import idx
from .safe_pickle import read_pickle
from .sources import remember_official
from .spec import Source, Spec


def parse(spec: Spec, source: Source) -> dict[str, np.ndarray]:
    if spec.format == "pickle":
        splits = read_pickle(source.files["pickle"])
        if len(splits) < 3:
            splits.append((np.zeros((0, 784), np.float32), np.zeros(0, np.int64)))
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
        xs, scale = _as_uint8([x_train, x_valid, x_test])
    else:
        official = spec.official if source.downloaded and not spec.chosen_urls else None
        images, labels, test_images, test_labels = idx.read_all(source.files, official)
        if not source.downloaded and spec.official and idx.is_official(source.files, spec.official):
            remember_official(spec, source)  # your own copy of the official files: the default
        n_valid = 10_000 if len(images) >= 20_000 else len(images) // 6
        n_train = len(images) - n_valid  # 60,000 -> the tutorial's 50,000 / 10,000
        flat = images.reshape(len(images), -1)
        xs = [flat[:n_train], flat[n_train:], test_images.reshape(len(test_images), -1)]
        y_train, y_valid, y_test = labels[:n_train], labels[n_train:], test_labels
        scale = np.float32(255)
    for name, y in (("train", y_train), ("valid", y_valid), ("test", y_test)):
        if y.size and (y.min() < 0 or y.max() > 9):
            raise zoo.DataError(
                f"{spec.name}: {name} labels run {y.min()}..{y.max()}, expected 0..9"
            )
    return {
        "x_train": xs[0],
        "y_train": np.asarray(y_train, np.uint8),
        "x_valid": xs[1],
        "y_valid": np.asarray(y_valid, np.uint8),
        "x_test": xs[2],
        "y_test": np.asarray(y_test, np.uint8),
        "scale": np.asarray(scale, np.float32),
    }


def _as_uint8(xs: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.float32]:
    """Pixels stored as uint8 when ``uint8 / scale`` gives back exactly the same float32 values
    (for 255 or 256); otherwise kept as float32 (scale 0)."""
    for scale in (np.float32(255), np.float32(256)):
        quantised = [np.clip(np.rint(x * scale), 0, 255).astype(np.uint8) for x in xs]
        if all(
            np.array_equal(q.astype(np.float32) / scale, x)
            for q, x in zip(quantised, xs, strict=True)
        ):
            return quantised, scale
    return [np.asarray(x, np.float32) for x in xs], np.float32(0)
