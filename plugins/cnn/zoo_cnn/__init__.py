"""The tutorial's ``MNISTCNN``: three 3x3 stride-2 convolutions with ReLU, then a 4x4 average
pool."""

from __future__ import annotations

from pathlib import Path

import zoo

#: The trained weights this plugin ships: a card (NAME.json) and a file each, made by
#: plugins/ship_weights.py from zoo's own runs.
WEIGHTS = Path(__file__).parent / "weights"


def cnn(num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28), channels: int = 16):
    """Three 3x3 stride-2 convs + ReLU, 4x4 average pool: the tutorial's MNISTCNN."""
    from .model import MNISTCNN

    return MNISTCNN(num_classes, input_shape, channels)


@zoo.hookimpl
def register_models(register):
    register("cnn", cnn)


@zoo.hookimpl
def register_weights(register):
    zoo.register_cards(register, WEIGHTS)
