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
    capturable: bool = False,
) -> Any:
    """Adam: adaptive moment estimation (capturable: its step in a CUDA graph, on CUDA)."""
    import torch

    return _adam(torch.optim.Adam, params, lr, betas, eps, weight_decay, capturable)


def adamw(
    params: Iterable[Any],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.01,
    capturable: bool = False,
) -> Any:
    """AdamW: Adam with decoupled weight decay (capturable: its step in a CUDA graph)."""
    import torch

    return _adam(torch.optim.AdamW, params, lr, betas, eps, weight_decay, capturable)


def _adam(
    cls: Any,
    params: Iterable[Any],
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    capturable: bool,
) -> Any:
    params = _capturable_where(list(params), capturable)
    return cls(
        params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, capturable=capturable
    )


def _capturable_where(params: list[Any], capturable: bool) -> list[Any]:
    """A capturable optimizer keeps its state on the device: only CUDA's (a ValueError, one
    line, rather than torch's assertion at the first step)."""
    tensors = [
        p for group in params for p in (group["params"] if isinstance(group, dict) else [group])
    ]
    if capturable and any(t.device.type != "cuda" for t in tensors):
        raise ValueError("capturable is for a model on CUDA (it lets a CUDA graph hold the step)")
    return params


@hookimpl
def register_optimizers(register):
    register("sgd", sgd)
    register("adam", adam)
    register("adamw", adamw)
