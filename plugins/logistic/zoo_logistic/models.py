from __future__ import annotations

import math

import torch
from torch import nn


class Logistic(nn.Module):
    """``nn.Linear`` from every pixel to a score per class (no softmax: cross_entropy has it)."""

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28)) -> None:
        super().__init__()
        self.linear = nn.Linear(math.prod(input_shape), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


class LogisticScratch(nn.Module):
    """The same model with the weights made by hand: ``randn / sqrt(n_in)`` (the tutorial's Xavier
    shortcut, since n_in >> n_out) and a zero bias."""

    def __init__(self, num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28)) -> None:
        super().__init__()
        n_in = math.prod(input_shape)
        self.weights = nn.Parameter(torch.randn(n_in, num_classes) / math.sqrt(n_in))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weights + self.bias
