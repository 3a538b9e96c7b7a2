"""The tutorial's ``Lambda`` layer, which wraps any function as an ``nn.Module`` so it can sit in an
``nn.Sequential``; and ``view``, a Lambda that reshapes (the tutorial's ``preprocess``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import zoo


def lambda_(func: Callable):
    """Wrap a function as a layer: Lambda(func)(x) == func(x)."""
    from .layers import Lambda

    return Lambda(func)


def view(*dims: int, shape: Sequence[int] | None = None):
    """Reshape the input with Tensor.view: view(-1, 1, 28, 28) or view(shape=[-1, 1, 28, 28])."""
    from .layers import View

    if dims and shape is not None:
        raise TypeError("view takes the shape as arguments or as shape=[...], not both")
    return View(*(dims or shape or ()))


@zoo.hookimpl
def register_layers(register):
    register("lambda", lambda_)
    register("view", view)
