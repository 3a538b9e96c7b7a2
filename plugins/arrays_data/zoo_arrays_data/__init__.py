"""A zoo plugin: your own images as arrays, the dataset ``arrays``.

    zoo run mlp --set dataset.name=arrays --set dataset.path=digits.npz

``path`` is an ``.npz`` file or a folder of ``.npy`` files holding ``x`` (the images: ``[N, H,
W]`` grey, ``[N, C, H, W]`` or ``[N, H, W, C]`` with 1 or 3 channels; uint8 in 0..255 or floats
in 0..1) and ``y`` (integer labels 0..K-1), or the splits themselves (``x_train``/``y_train``,
``x_valid``/``y_valid``, and ``x_test``/``y_test`` when there is a test split). Without a
validation split, a seeded, stratified ``valid`` share of each class is held out. Every array's
header is read and checked before its data (no pickles, sizes bounded by what the file holds).
"""

from __future__ import annotations

import zoo

from .arrays import MAX_SHAPE, load

ZOO_HOOKSPEC_VERSION = 1  # the zoo hook specs this plugin was written for


def arrays(
    path: str,
    valid: float = 0.1,
    seed: int = 0,
    classes: list[str] | None = None,
    progress: bool = True,
) -> zoo.Splits:
    """Your own images and labels, from an .npz file or a folder of .npy files.

    ``valid`` is the share of each class held out for validation when the file has no validation
    split (seeded by ``seed``); ``classes`` names the labels 0..K-1."""
    return load(path, valid=valid, seed=seed, classes=classes, progress=progress)


@zoo.hookimpl
def register_datasets(register):
    register("arrays", arrays, max_input_shape=MAX_SHAPE)
