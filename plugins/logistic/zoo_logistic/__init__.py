"""The tutorial's logistic regression: ``logistic`` (nn.Linear) and ``logistic_scratch``
(hand-made ``nn.Parameter`` weights). The models live in ``.models``, imported when built, so
registering them does not import torch."""

from __future__ import annotations

from pathlib import Path

import zoo

#: The trained weights this plugin ships: a card (NAME.json) and a file each, made by
#: plugins/ship_weights.py from zoo's own runs.
WEIGHTS = Path(__file__).parent / "weights"


def logistic(num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28)):
    """Logistic regression, nn.Linear(784, 10): the tutorial's MNISTLogistic."""
    from .models import Logistic

    return Logistic(num_classes, input_shape)


def logistic_scratch(num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28)):
    """Logistic regression from raw nn.Parameters initialised randn/sqrt(784), as the tutorial."""
    from .models import LogisticScratch

    return LogisticScratch(num_classes, input_shape)


@zoo.hookimpl
def register_models(register):
    register("logistic", logistic)
    register("logistic_scratch", logistic_scratch)


@zoo.hookimpl
def register_weights(register):
    zoo.register_cards(register, WEIGHTS)
