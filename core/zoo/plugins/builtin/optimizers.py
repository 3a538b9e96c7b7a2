"""torch.optim's common optimizers, registered through ``register_optimizers`` like any plugin's.

torch is imported when an optimizer is built, never at registration, so listing stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...hookspecs import hookimpl


def sgd(
    params: Iterable[Any],
    lr: float = 0.1,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    dampening: float = 0.0,
) -> Any:
    """Stochastic gradient descent, with optional momentum, Nesterov and weight decay."""
    import torch

    return torch.optim.SGD(
        params,
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=weight_decay,
        dampening=dampening,
    )


def adam(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> Any:
    """Adam: adaptive moment estimation."""
    import torch

    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


def adamw(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> Any:
    """AdamW: Adam with decoupled weight decay."""
    import torch

    return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


@hookimpl
def register_optimizers(register):
    register("sgd", sgd)
    register("adam", adam)
    register("adamw", adamw)
