from __future__ import annotations

import torch
from torch import nn


class LeNet5(nn.Module):
    """28x28 images padded to 32x32 (the paper's input), C1 6@28x28, S2 14x14, C3 16@10x10, S4
    5x5, then 400 -> 120 -> 84 -> the class scores."""

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, ...] = (1, 28, 28),
        activation: str = "relu",
        pool: str = "max",
    ) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        channels, height, width = self.input_shape
        act = nn.ReLU if activation == "relu" else nn.Tanh
        pooling = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(channels, 6, kernel_size=5, padding=2),
            act(),
            pooling(2),
            nn.Conv2d(6, 16, kernel_size=5),
            act(),
            pooling(2),
            nn.Flatten(),
        )
        flat = 16 * ((height // 2 - 4) // 2) * ((width // 2 - 4) // 2)
        self.classifier = nn.Sequential(
            nn.Linear(flat, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.reshape(-1, *self.input_shape)))
