"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998): two 5x5 convolutions with pooling, then
fully connected layers of 120 and 84 units; here with ReLU and max pooling, as it is usually
written today (``activation: tanh`` and ``pool: avg`` give the paper's)."""

from __future__ import annotations

from pathlib import Path

import zoo

WEIGHTS = Path(__file__).parent / "weights"


def lenet5(
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (1, 28, 28),
    activation: str = "relu",
    pool: str = "max",
):
    """LeNet-5: conv 6@5x5, pool, conv 16@5x5, pool, fc 120, fc 84, fc classes."""
    if activation not in ("relu", "tanh") or pool not in ("max", "avg"):
        raise ValueError("activation must be relu or tanh, and pool max or avg")
    from .model import LeNet5

    return LeNet5(num_classes, tuple(input_shape), activation, pool)


@zoo.hookimpl
def register_models(register):
    register("lenet5", lenet5)


@zoo.hookimpl
def register_weights(register):
    zoo.register_cards(register, WEIGHTS)
