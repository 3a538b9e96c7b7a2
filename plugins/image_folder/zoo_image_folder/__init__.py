"""A zoo plugin: a folder of your own pictures as the dataset ``image_folder``.

    zoo run bn_cnn --set dataset.name=image_folder --set dataset.path=leaves/

``path`` holds a folder per class (``leaves/oak/1.jpg``, ``leaves/maple/2.png``...: torchvision's
``ImageFolder`` layout; a seeded, stratified ``valid`` share of each class is held out), or
``train/``, ``valid/`` (or ``val/``) and ``test/`` folders of class folders. The classes are the
class folders' names in sorted order (Python's ``sorted``: code point order, so ``B`` before
``a``), their index the position in that order. Every picture is read once (in ``workers``
processes) into a prepared copy in zoo's cache, at one ``size`` (default: the most common one)
and ``mode`` (``grey`` or ``rgb``, default: found from the pictures), resized to cover and
centre-cropped as torchvision's ``Resize`` + ``CenterCrop`` do; later runs read that copy, in
memory when it fits ``memory_budget_mb`` (default: a quarter of this machine's memory), else
streamed from disk. A changed, added or removed picture makes a new copy.
"""

from __future__ import annotations

import zoo

from .prepared import MAX_SHAPE, load

ZOO_HOOKSPEC_VERSION = 1  # the zoo hook specs this plugin was written for


def image_folder(
    path: str,
    valid: float = 0.1,
    seed: int = 0,
    size: int | list[int] | None = None,
    mode: str | None = None,
    on_error: str = "stop",
    memory_budget_mb: int | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> zoo.Splits:
    """Your own pictures, a folder of them per class.

    ``valid``: the share of each class held out for validation when there is no valid folder
    (seeded by ``seed``); ``size``: a side or ``[height, width]``; ``mode``: ``grey`` or ``rgb``;
    ``on_error``: ``stop`` at a picture that cannot be read, or ``skip`` it (counted)."""
    return load(
        path,
        valid=valid,
        seed=seed,
        size=size,
        mode=mode,
        on_error=on_error,
        memory_budget_mb=memory_budget_mb,
        workers=workers,
        progress=progress,
    )


@zoo.hookimpl
def register_datasets(register):
    register("image_folder", image_folder, max_input_shape=MAX_SHAPE)
