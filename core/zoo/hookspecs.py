"""The hooks a zoo plugin can implement: the contract third-party authors code against.

Each hook receives a ``register`` callable owned by the host, so the host knows which plugin
registered what and can name it when something is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT_NAME = "zoo"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[..., None]


@hookspec
def register_datasets(register: Register) -> None:
    """``register(name, factory, **meta)``; ``factory(**options)`` -> a ``zoo.Splits``."""


@hookspec
def register_models(register: Register) -> None:
    """``register(name, factory, **meta)``; ``factory(**options)`` -> an ``nn.Module``."""


@hookspec
def register_optimizers(register: Register) -> None:
    """``register(name, factory, **meta)``; ``factory(params, **options)`` -> an optimizer."""


@hookspec
def register_layers(register: Register) -> None:
    """``register(name, factory, **meta)``; ``factory(*args, **options)`` -> an ``nn.Module``."""
