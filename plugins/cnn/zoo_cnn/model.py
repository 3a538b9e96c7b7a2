from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MNISTCNN(nn.Module):
    """28x28 -> 14 -> 7 -> 4 through three stride-2 convolutions, then a 4x4 average pool leaves
    one value per channel. The last conv has ``num_classes`` channels: those values are the class
    scores (the tutorial's 16 there is a slip for MNIST's 10 classes)."""

    def __init__(
        self, num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28), channels: int = 16
    ) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.conv1 = nn.Conv2d(input_shape[0], channels, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(channels, num_classes, kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, *self.input_shape)  # flat [N, 784] rows back into images
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        x = F.avg_pool2d(x, 4)
        return x.view(-1, x.size(1))
