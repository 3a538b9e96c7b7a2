"""The parts of a training recipe, built from their registries as a run config names them: the
loss and the chosen metrics (which training and ``zoo eval`` share), the scheduler and the
callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import part_options
from ..hookspecs import Callback, Metric

#: The loss of a config that names none (a run's config.yaml or a card's recipe from before
#: losses were plugins): the tutorial's cross-entropy.
DEFAULT_LOSS = {"name": "cross_entropy"}


def loss(config: Mapping[str, Any], registries: Mapping[str, Any], splits: Any) -> Any:
    """The config's ``loss`` (default cross-entropy); its factory may take ``num_classes``."""
    part = config.get("loss") or DEFAULT_LOSS
    entry = registries["losses"].get(part["name"])
    return entry.create(context={"num_classes": splits.num_classes}, **part_options(part))


def metrics(
    config: Mapping[str, Any], registries: Mapping[str, Any], splits: Any
) -> list[tuple[str, Metric]]:
    """The config's ``metrics`` as ``(key, metric)``: ``val_<key>`` in the metrics rows."""
    context = {"num_classes": splits.num_classes, "classes": splits.classes}
    built = []
    for part in config.get("metrics") or []:
        entry = registries["metrics"].get(part["name"])
        metric = entry.create(context=context, **part_options(part))
        built.append((metric.key or entry.name, metric))
    return built


def scheduler(
    config: Mapping[str, Any],
    registries: Mapping[str, Any],
    optimizer: Any,
    epochs: int,
    steps_per_epoch: int,
) -> tuple[Any, str]:
    """The config's ``scheduler`` (or ``None``) and when it steps: ``epoch`` or ``step``."""
    part = config.get("scheduler")
    if not part:
        return None, "epoch"
    entry = registries["schedulers"].get(part["name"])
    context = {"epochs": epochs, "steps_per_epoch": steps_per_epoch}
    built = entry.create(optimizer, context=context, **part_options(part))
    return built, entry.meta.get("interval", "epoch")


def callbacks(config: Mapping[str, Any], registries: Mapping[str, Any]) -> list[Callback]:
    """The config's ``callbacks``, in order."""
    return [
        registries["callbacks"].get(part["name"]).create(**part_options(part))
        for part in config.get("callbacks") or []
    ]
