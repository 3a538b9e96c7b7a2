"""The tutorial's ``MNISTCNN``: three 3x3 stride-2 convolutions with ReLU, then a 4x4 average
pool."""

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


def cnn(num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28), channels: int = 16):
    """Three 3x3 stride-2 convs + ReLU, 4x4 average pool: the tutorial's MNISTCNN."""
    from .model import MNISTCNN

    check_input("cnn", input_shape)
    return MNISTCNN(num_classes, input_shape, channels)


@zoo.hookimpl
def register_models(register):
    register("cnn", cnn)


@zoo.hookimpl
def register_weights(register):
    zoo.register_cards(register, WEIGHTS)
