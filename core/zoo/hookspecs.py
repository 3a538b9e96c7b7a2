"""The hooks a zoo plugin can implement: the contract third-party authors code against
(docs/plugins.md documents each one; a test fails when one is not).

Each registry hook receives a ``register`` callable owned by the host, so the host knows which
plugin registered what and can name it when something is wrong. ``Splits`` is what a dataset
factory returns; ``Metric`` and ``Callback`` are what metric and callback factories return.
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
    #: The sha256 of the data as it was read (a prepared copy of the user's pictures), recorded
    #: with each run, so that a card says which data its numbers come from.
    digest: str | None = None
    #: How a picture from outside (``zoo predict``, the page) becomes an input: ``"photo"``, the
    #: way the dataset's own pictures were read (colours kept, resized to cover, centre-cropped);
    #: ``None``, a drawn digit (grey, light on black as MNIST is, fitted and centred).
    pictures: str | None = None


class Metric:
    """A validation metric: ``update(outputs, targets)`` for each batch (the model's scores and
    the true classes), then ``compute()`` once -> a number, or a list (per class...) that goes
    into metrics.jsonl as ``val_<key>``. ``states()`` are the tensors ``update`` adds to, summed
    over the ranks of a distributed run before ``compute``; ``reset()`` starts again."""

    key: str | None = None  # the name in metrics.jsonl (default: the registered name)
    scalar: bool = True  # compute() gives one number (a column of the run's table), not a list

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, outputs: Any, targets: Any) -> None:
        raise NotImplementedError

    def states(self) -> list[Any]:
        return []

    def compute(self) -> Any:
        raise NotImplementedError


class Callback:
    """What a run calls at its edges (never per batch, so a callback costs nothing per step):
    ``on_start(trainer)`` before the first epoch this process trains (also after a resume),
    ``on_epoch_end(trainer, row)`` with the epoch's metrics row, ``on_saved(trainer, row)`` once
    its checkpoint is written, ``on_end(trainer)``. The trainer has ``dir``, ``config`` (a
    ``zoo.RunConfig``), ``history``, ``epochs``, ``raw_model`` (the module; ``model`` is what
    trains), ``optimizer``, ``is_main`` (only that process should write files), ``env`` (its
    env.json), ``outputs()`` (its files to copy), ``card()``, ``say(line)``, ``stop(reason)``
    and ``output_path(relative)`` (where it may write).
    ``state_dict()`` is saved in every checkpoint and given back to ``load_state_dict`` on
    resume: a run resumes exactly. A
    ``monitor`` attribute (here or on a scheduler) names a key of the metrics rows, checked
    before the first epoch."""

    def on_start(self, trainer: Any) -> None:
        """Before the first epoch this process trains."""

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        """After each epoch, before its checkpoint (so what it changes is saved with it)."""

    def on_saved(self, trainer: Any, row: dict[str, Any]) -> None:
        """After each epoch's checkpoint and metrics line are on disk: what is sent elsewhere
        from here is never an epoch that a resume trains again."""

    def on_end(self, trainer: Any) -> None:
        """After the last epoch (or an early stop)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""


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
def register_schedulers(register: Register) -> None:
    """``register(name, factory, interval="epoch"|"step", **meta)``; ``factory(optimizer,
    **options)`` -> a torch LR scheduler, stepped after each epoch or each optimizer step; it may
    take ``epochs`` and ``steps_per_epoch``."""


@hookspec
def register_losses(register: Register) -> None:
    """``register(name, factory, **meta)``; ``factory(**options)`` -> ``loss(outputs, targets)``
    (an ``nn.Module``, mean over the batch); it may take ``num_classes``."""


@hookspec
def register_metrics(register: Register) -> None:
    """``register(name, factory, **meta)``; ``factory(**options)`` -> a ``zoo.Metric``; it may
    take ``num_classes`` and ``classes``."""


@hookspec
def register_callbacks(register: Register) -> None:
    """``register(name, factory, **meta)``; ``factory(**options)`` -> a ``zoo.Callback``."""


@hookspec
def register_transforms(register: Register) -> None:
    """``register(name, factory, **meta)``; ``factory(**options)`` -> ``transform(images,
    generator) -> images``: a batch transform (augmentation) of a batch of training images
    ``[N, C, H, W]`` on the batch's device, drawing every random number from ``generator`` (a
    ``torch.Generator`` on that device, saved in each checkpoint); it may take ``input_shape``.
    A run names transforms in ``augment: [...]``; evaluation never applies them."""


@hookspec
def register_weights(register: Register) -> None:
    """``register(name, card)``: trained weights named ``MODEL.TAG`` (``cnn.mnist``). ``card`` is
    the path of a JSON weights card inside the plugin's package, or a mapping of its fields
    (docs/weights.md): the safetensors file, its sha256, the model's options, the dataset, the
    metrics and the recipe that produced them."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to ``zoo``: ``cli.add_command(command)``."""
