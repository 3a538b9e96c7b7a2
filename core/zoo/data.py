"""What a dataset factory returns, and where zoo keeps downloaded files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
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


def zoo_home() -> Path:
    """``$ZOO_HOME``, else ``~/.cache/zoo``: downloads and other caches live below it."""
    return Path(os.environ.get("ZOO_HOME") or Path.home() / ".cache" / "zoo").expanduser()
