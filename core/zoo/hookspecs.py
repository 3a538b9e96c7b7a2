"""The hooks a zoo plugin can implement: the contract third-party authors code against
(docs/plugins.md documents each one; a test fails when one is not).

Each registry hook receives a ``register`` callable owned by the host, so the host knows which
plugin registered what and can name it when something is wrong. ``Splits`` is what a dataset
factory returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

PROJECT_NAME = "zoo"
#: The core's distribution (the import package is ``zoo``; ``zoo`` on PyPI is another project).
DISTRIBUTION = "torch-zoo"
#: The version of these hook specs. A plugin may declare the one it was written for as a module
#: attribute ``ZOO_HOOKSPEC_VERSION``; a different one is reported when it loads.
HOOKSPEC_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[..., None]


@dataclass
class Splits:
    """What a dataset factory returns: its splits (torch ``Dataset``s of ``(x, y)`` pairs) and
    what a model needs to know about them.

    A ``TensorDataset`` split takes the trainer's fast in-memory path; any other ``Dataset`` is
    read through a ``DataLoader``.
    """

    train: Any
    valid: Any
    test: Any = None
    num_classes: int | None = None
    input_shape: tuple[int, ...] | None = None  # (channels, height, width)
    classes: tuple[str, ...] | None = None  # a name per class index, when the dataset has them


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


@hookspec
def register_weights(register: Register) -> None:
    """``register(name, card)``: trained weights named ``MODEL.TAG`` (``cnn.mnist``). ``card`` is
    the path of a JSON weights card inside the plugin's package, or a mapping of its fields
    (docs/weights.md): the safetensors file, its sha256, the model's options, the dataset, the
    metrics and the recipe that produced them."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to ``zoo``: ``cli.add_command(command)``."""
