"""A multilayer perceptron: the image flattened, ``layers`` hidden fully connected layers of
``hidden`` units with ReLU and dropout, then the class scores (no ReLU on them)."""

from __future__ import annotations

from pathlib import Path

import zoo

#: The trained weights this plugin ships (made by plugins/ship_weights.py from zoo's own runs).
WEIGHTS = Path(__file__).parent / "weights"


def mlp(
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (1, 28, 28),
    hidden: int = 512,
    layers: int = 2,
    dropout: float = 0.2,
):
    """Fully connected layers with ReLU and dropout: the classic MNIST MLP."""
    if not 1 <= layers <= 16 or not 1 <= hidden <= 65536 or not 0.0 <= dropout < 1.0:
        raise ValueError("layers must be 1-16, hidden 1-65536 and dropout in [0, 1)")
    from torch import nn

    inputs = 1
    for size in input_shape:
        inputs *= size
    body: list[nn.Module] = [nn.Flatten()]
    for i in range(layers):
        body += [nn.Linear(inputs if i == 0 else hidden, hidden), nn.ReLU(), nn.Dropout(dropout)]
    body.append(nn.Linear(hidden, num_classes))
    return nn.Sequential(*body)


@zoo.hookimpl
def register_models(register):
    register("mlp", mlp)


@zoo.hookimpl
def register_weights(register):
    zoo.register_cards(register, WEIGHTS)
