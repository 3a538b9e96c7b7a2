"""The tutorial's ``nn.Sequential`` CNN: the same three convolutions as ``cnn``, written as a
list of layers, with the reshapes done by ``Lambda`` layers taken from zoo's layer registry."""

from __future__ import annotations

from pathlib import Path

import zoo

#: The trained weights this plugin ships: a card (NAME.json) and a file each, made by
#: plugins/ship_weights.py from zoo's own runs.
WEIGHTS = Path(__file__).parent / "weights"


def _flatten(x):
    return x.view(x.size(0), -1)


def sequential_cnn(
    num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28), channels: int = 16
):
    """The tutorial's nn.Sequential CNN: 3 convs + ReLU, AvgPool2d(4), with Lambda reshapes."""
    from torch import nn

    return nn.Sequential(
        zoo.create_layer("view", -1, *input_shape),  # the tutorial's Lambda(preprocess)
        nn.Conv2d(input_shape[0], channels, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(channels, num_classes, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(4),
        zoo.create_layer("lambda", _flatten),
    )


@zoo.hookimpl
def register_models(register):
    register("sequential_cnn", sequential_cnn)


@zoo.hookimpl
def register_weights(register):
    zoo.register_cards(register, WEIGHTS)
