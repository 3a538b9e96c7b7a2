"""A small modern CNN for 28x28 images: 3x3 convolutions with batch norm and ReLU (one at full
size, two at 14x14, two at 7x7), global average pooling, dropout and one linear layer to the
class scores (no ReLU on them). ``width`` sets the channels (width, 2x, 4x)."""

from __future__ import annotations

from pathlib import Path

import zoo

WEIGHTS = Path(__file__).parent / "weights"


def bn_cnn(
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (1, 28, 28),
    width: int = 16,
    dropout: float = 0.2,
):
    """Five 3x3 conv + batch norm + ReLU, global average pool, dropout, linear."""
    if not 1 <= width <= 1024 or not 0.0 <= dropout < 1.0:
        raise ValueError("width must be 1-1024 and dropout in [0, 1)")
    from .model import BNCNN

    return BNCNN(num_classes, tuple(input_shape), width, dropout)


@zoo.hookimpl
def register_models(register):
    register("bn_cnn", bn_cnn)


@zoo.hookimpl
def register_weights(register):
    zoo.register_cards(register, WEIGHTS)
