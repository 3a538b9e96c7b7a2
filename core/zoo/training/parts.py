"""A run's parts, each built in one place from its :class:`~zoo.config.RunConfig` and the
registries: the dataset, the model (sized before it is built, from ``--init`` weights when asked,
checked against the data), the optimizer, the loss, the chosen metrics, the scheduler, the
callbacks and the augmentation. The trainer, ``zoo eval`` and ``zoo reproduce`` build through
these functions; what zoo itself hands a factory besides the config's options is
``zoo.plugins.registry.GIVEN``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from ..config import RunConfig
from ..errors import ConfigError
from ..files import check_name
from ..hookspecs import Callback, Metric, Splits
from ..runs import checkpoints
from ..runs.trained import Trained, build_model, model_context
from . import device as devices
from . import loop
from .augment import Augmenter


def dataset(config: RunConfig, registries: Mapping[str, Any], *, progress: bool) -> Splits:
    """The run's dataset (``progress`` false: its plugin prints nothing)."""
    entry = registries["datasets"].get(config.dataset.name)
    quiet = {} if progress else {"progress": False}
    return entry.create(context=quiet, **config.dataset.options)


def model(
    config: RunConfig,
    registries: Mapping[str, Any],
    splits: Splits,
    device: torch.device,
    *,
    init: Trained | None = None,
    say: Callable[[str], None] = print,
) -> torch.nn.Module:
    """The run's model for ``splits`` on ``device``: sized without memory first (options that
    make it larger than the machine can train are one line), from ``init``'s weights when given,
    and checked with two samples of the training data."""
    entry = registries["models"].get(config.model.name)
    net = build_model(
        entry,
        model_context(splits.num_classes, splits.input_shape),
        dict(config.model.options),
        what=f"zoo run {config.name}",
        budget=devices.weights_budget(device),
    )
    if init is not None:  # every tensor of the same name and shape; the others start afresh
        adapted, fresh = checkpoints.load_matching(net, init.path, "cpu", f"--init {init.label}")
        changed = adapted + fresh
        if changed:
            total = len(net.state_dict())
            more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
            say(
                f"  --init {init.label}: {total - len(fresh)} of {total} tensors loaded; "
                f"changed or started afresh: {', '.join(changed[:4])}{more}"
            )
    net.to(device)
    what = f"{entry.source()} on dataset '{config.dataset.name}'"
    loop.check_fits(net, splits.train, splits.num_classes, device, what)
    return net


def optimizer(
    config: RunConfig, registries: Mapping[str, Any], net: torch.nn.Module
) -> torch.optim.Optimizer:
    entry = registries["optimizers"].get(config.optimizer.name)
    return entry.create(net.parameters(), **config.optimizer.options)


def loss(config: RunConfig, registries: Mapping[str, Any], splits: Splits) -> Any:
    """The config's ``loss`` (default cross-entropy); its factory may take ``num_classes``."""
    entry = registries["losses"].get(config.loss.name)
    return entry.create(context={"num_classes": splits.num_classes}, **config.loss.options)


def metrics(
    config: RunConfig, registries: Mapping[str, Any], splits: Splits
) -> list[tuple[str, Metric]]:
    """The config's ``metrics`` as ``(key, metric)``: ``val_<key>`` in the metrics rows."""
    context = {"num_classes": splits.num_classes, "classes": splits.classes}
    built = []
    for part in config.metrics:
        entry = registries["metrics"].get(part.name)
        metric = entry.create(context=context, **part.options)
        key = metric.key or entry.name  # a column of metrics.jsonl: a plain name, as it is read
        built.append((check_name(key, f"metric '{entry.name}': its key"), metric))
    return built


def scheduler(
    config: RunConfig,
    registries: Mapping[str, Any],
    optim: torch.optim.Optimizer,
    steps_per_epoch: int,
) -> tuple[Any, str]:
    """The config's ``scheduler`` (or ``None``) and when it steps: ``epoch`` or ``step``."""
    part = config.scheduler
    if part is None:
        return None, "epoch"
    entry = registries["schedulers"].get(part.name)
    context = {"epochs": config.epochs, "steps_per_epoch": steps_per_epoch}
    built = entry.create(optim, context=context, **_watching(config, entry, part.options))
    return built, entry.meta.get("interval", "epoch")


def check_augment(config: RunConfig, registries: Mapping[str, Any]) -> None:
    """Build the config's transforms that do not need the data's ``input_shape``, before any data
    is loaded: an option out of range is one line then, not after a download."""
    for part in config.augment:
        entry = registries["transforms"].get(part.name)
        if "input_shape" not in entry.parameters:
            entry.create(**part.options)


def augment(
    config: RunConfig, registries: Mapping[str, Any], splits: Splits, device: torch.device
) -> Augmenter | None:
    """The config's ``augment`` transforms as one :class:`Augmenter` on ``device`` (``None``
    when it names none)."""
    if not config.augment:
        return None
    if not splits.input_shape:
        raise ConfigError(
            f"augment: dataset '{config.dataset.name}' does not say its input_shape, so its "
            "samples cannot be seen as images to transform"
        )
    built = []
    for part in config.augment:
        entry = registries["transforms"].get(part.name)
        context = {"input_shape": tuple(splits.input_shape)}
        built.append((part.name, entry.create(context=context, **part.options)))
    augmenter = Augmenter(built, tuple(splits.input_shape), device, config.seed)
    sample = [torch.as_tensor(splits.train[i][0]) for i in range(min(2, len(splits.train)))]
    augmenter.check(torch.stack(sample).to(device))
    return augmenter


def callbacks(config: RunConfig, registries: Mapping[str, Any]) -> list[Callback]:
    """The config's ``callbacks``, in order. One that watches a number and names none watches
    the run's ``monitor`` (the same idea of "best" as the run's)."""
    built = []
    for part in config.callbacks:
        entry = registries["callbacks"].get(part.name)
        built.append(entry.create(**_watching(config, entry, part.options)))
    return built


def _watching(config: RunConfig, entry: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """A part's options, with the run's ``monitor`` and ``mode`` where it watches a number and
    names none (early stopping, reduce_on_plateau)."""
    options = dict(options)
    if "monitor" in entry.parameters and "monitor" not in options:
        options["monitor"] = config.monitor
        if "mode" in entry.parameters and "mode" not in options:
            options["mode"] = config.mode
    return options
