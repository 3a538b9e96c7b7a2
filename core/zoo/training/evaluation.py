"""A trained run on data: the loss and accuracy of its weights on its dataset's valid or test
split, computed by the same validation loop as training (so ``valid`` with the last weights
reproduces the last epoch's ``val_loss``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import config as configs
from ..errors import DataError
from ..plugins.manager import Catalog
from ..runs import directory
from ..runs.trained import load_model
from . import device as devices
from . import loop


def evaluate_run(
    run_dir: str | Path,
    catalog: Catalog,
    split: str = "valid",
    weights: str = "last",
    overrides: configs.Overrides | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """``{"split", "weights", "loss", "acc", "samples"}`` of ``run_dir``'s model on ``split``;
    ``overrides`` change the run's config first (e.g. ``dataset.path``), checked like --set."""
    run_dir = Path(run_dir)
    config = directory.read_config(run_dir)
    configs.apply_overrides(config, overrides)
    configs.validate({k: v for k, v in config.items() if k != "name"})
    configs.check_options(config, catalog.registries)
    device = devices.select_device(device or config.get("device", "auto"))
    devices.set_threads(config.get("threads", "auto"), device)  # as in training: same numbers
    net = load_model(run_dir, catalog.registries["models"], weights, str(device))  # before data
    dataset = catalog.registries["datasets"].get(config["dataset"]["name"])
    splits = dataset.create(**configs.section_options(config, "dataset"))
    data = getattr(splits, split, None)
    if data is None:
        raise DataError(f"dataset '{config['dataset']['name']}' has no {split} split")
    what = f"{run_dir}'s model on dataset '{config['dataset']['name']}'"
    loop.check_fits(net, data, splits.num_classes, device, what)
    batch_size = config.get("valid_batch_size") or config["batch_size"] * 2
    loss, acc = loop.evaluate(net, loop.Batches(data, batch_size, device), config.get("amp", False))
    loss, acc = round(loss, 6), round(acc, 6)  # as metrics.jsonl rounds them
    return {"split": split, "weights": weights, "loss": loss, "acc": acc, "samples": len(data)}
