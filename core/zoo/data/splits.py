"""What a dataset factory returns: the splits, and what a model needs to know about them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Splits:
    """A dataset's splits (torch ``Dataset``s) and what a model needs to know about them.

    A ``TensorDataset`` split takes the trainer's fast in-memory path; any other ``Dataset`` is
    read through a ``DataLoader``.
    """

    train: Any
    valid: Any
    test: Any = None
    num_classes: int | None = None
    input_shape: tuple[int, ...] | None = None
    classes: tuple[str, ...] | None = None  # a name per class index, when the dataset has them
