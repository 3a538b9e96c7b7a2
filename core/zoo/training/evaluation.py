"""Trained weights on data: the loss and accuracy of a run's (or a weights card's) weights on
the valid or test split of the dataset they were trained on, computed by the same validation
loop as training (a run's ``valid`` with its last weights gives its last epoch's ``val_loss``)."""

from __future__ import annotations

import math
from typing import Any

from .. import config as configs
from ..errors import ConfigError, DataError, ZooError
from ..plugins.manager import Catalog
from ..runs.trained import Trained
from . import device as devices
from . import loop, parts


def evaluate_run(
    trained: Trained,
    catalog: Catalog,
    split: str = "valid",
    overrides: configs.Overrides | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """``{"split", "loss", "acc", "samples"}`` of ``trained``'s model on ``split`` of the dataset
    in its config; ``overrides`` change that config first (e.g. ``dataset.path``), checked like
    --set."""
    if trained.config is None:
        raise ConfigError(f"{trained.label} record no run config: zoo cannot tell their data")
    config = configs.recorded(trained.config, overrides)
    config = configs.revise(config, overrides, catalog.registries)
    # where it is evaluated is this machine's choice (auto unless asked), not where it trained:
    # a run trained on cuda is evaluated on a machine without one
    device = devices.select_device(device or "auto")
    devices.set_threads(config.threads, device)  # as in training: the same numbers
    net = trained.build(catalog.registries["models"], str(device))  # before the data
    splits = parts.dataset(config, catalog.registries, progress=True)
    data = getattr(splits, split, None)
    if data is None:
        raise DataError(f"dataset '{config.dataset.name}' has no {split} split")
    what = f"{trained.label} on dataset '{config.dataset.name}'"
    loop.check_fits(net, data, splits.num_classes, device, what)
    criterion = parts.loss(config, catalog.registries, splits)
    metrics = parts.metrics(config, catalog.registries, splits)
    batches = loop.Batches(data, config.valid_size, device)
    loss, acc = loop.evaluate(net, batches, config.amp, criterion, [m for _, m in metrics])
    if not (math.isfinite(loss) and math.isfinite(acc)):
        raise ZooError(
            f"{what}: the loss is {loss}: the weights answer with values that are not numbers"
        )
    loss, acc = round(loss, 6), round(acc, 6)  # as metrics.jsonl rounds them
    result = {"split": split, "loss": loss, "acc": acc, "samples": len(data)}
    result["metrics"] = {key: metric.compute() for key, metric in metrics}
    result["classes"] = list(splits.classes) if splits.classes else None
    return result
