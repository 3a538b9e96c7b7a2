from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class Lambda(nn.Module):
    """Any function as a module."""

    def __init__(self, func: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.func = func

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.func(x)

    def extra_repr(self) -> str:
        return getattr(self.func, "__name__", repr(self.func))


class View(Lambda):
    """A Lambda that reshapes to ``shape`` (-1 infers one dimension)."""

    def __init__(self, *shape: int) -> None:
        if not shape or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
            raise ValueError(
                f"view needs a shape of integers, e.g. view(-1, 1, 28, 28); got {shape}"
            )
        self.shape = tuple(shape)
        super().__init__(self._view)

    def _view(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"
