"""The tutorial's ``nn.Sequential`` CNN: the same three convolutions as ``cnn``, written as a
list of layers, with the reshapes done by ``Lambda`` layers taken from zoo's layer registry."""

from __future__ import annotations

from pathlib import Path

import zoo

#: The trained weights this plugin ships: a card (NAME.json) and a file each, made by
#: plugins/ship_weights.py from zoo's own runs.
WEIGHTS = Path(__file__).parent / "weights"


def check_input(name: str, input_shape: tuple[int, ...]) -> None:
    """The tutorial's CNN is written for 28 x 28 digits: three stride-2 convolutions must leave
    the 4 x 4 its average pool takes, which pictures of 25 to 32 pixels a side do."""
    side = list(input_shape)[-2:]
    if len(input_shape) != 3 or not all(25 <= n <= 32 for n in side):
        raise zoo.ConfigError(
            f"model '{name}' is the tutorial's CNN, written for 28 x 28 digits: it takes pictures "
            f"of 25 to 32 pixels a side, not {tuple(input_shape)} (set dataset.size=28, or use "
            "bn_cnn or lenet5, which take any size)"
        )


def _flatten(x):
    return x.view(x.size(0), -1)


def sequential_cnn(
    num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28), channels: int = 16
):
    """The tutorial's nn.Sequential CNN: 3 convs + ReLU, AvgPool2d(4), with Lambda reshapes."""
    from torch import nn

    check_input("sequential_cnn", input_shape)
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
