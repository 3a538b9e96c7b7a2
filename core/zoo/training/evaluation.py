"""Trained weights on data: the loss and accuracy of a run's (or a weights card's) weights on
the valid or test split of the dataset they were trained on, computed by the same validation
loop as training (a run's ``valid`` with its last weights gives its last epoch's ``val_loss``)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import config as configs
from ..errors import ConfigError, DataError, ZooError
from ..plugins.manager import Catalog
from ..runs import pictures
from ..runs.trained import Trained
from . import device as devices
from . import loop, parts


def evaluate_run(
    trained: Trained,
    catalog: Catalog,
    split: str = "valid",
    overrides: configs.Overrides | None = None,
    device: str | None = None,
    top_losses: int = 0,
    picture: Path | None = None,
    threads: int | str | None = None,
) -> dict[str, Any]:
    """``{"split", "loss", "acc", "samples"}`` of ``trained``'s model on ``split`` of the dataset
    in its config; ``overrides`` change that config first (e.g. ``dataset.path``), checked like
    --set. ``top_losses=N`` adds the N samples with the highest loss (``top_losses``: index,
    true and predicted class, their probabilities, loss), drawn into ``picture`` when given.
    ``threads``: the CPU threads to compute with, ``None`` for the run's own (the same numbers
    as it trained; the process's count is put back after), ``"auto"`` for the process's as it
    is (a server answering many requests: a run's settings never change its state)."""
    before = torch.get_num_threads()
    try:
        return _evaluate(trained, catalog, split, overrides, device, top_losses, picture, threads)
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _evaluate(
    trained: Trained,
    catalog: Catalog,
    split: str,
    overrides: configs.Overrides | None,
    device: str | None,
    top_losses: int,
    picture: Path | None,
    threads: int | str | None,
) -> dict[str, Any]:
    if trained.config is None:
        raise ConfigError(f"{trained.label} record no run config: zoo cannot tell their data")
    config = configs.recorded(trained.config, overrides)
    config = configs.revise(config, overrides, catalog.registries)
    # where it is evaluated is this machine's choice (auto unless asked), not where it trained:
    # a run trained on cuda is evaluated on a machine without one
    device = devices.select_device(device or "auto")
    devices.set_threads(config.threads if threads is None else threads, device)  # as it trained
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
    # the loss reported is the plain negative log-likelihood of the true class, whatever loss
    # the run trained with (label smoothing, a plugin's): the same measure for every model; the
    # run's own loss is given beside it, named, when it is another one
    own = config.loss != configs.DEFAULT_LOSS
    criteria = [F.cross_entropy, criterion] if own else [F.cross_entropy]
    losses, acc = loop.evaluate_losses(net, batches, config.amp, criteria, [m for _, m in metrics])
    loss = losses[0]
    if not all(math.isfinite(value) for value in (*losses, acc)):
        raise ZooError(
            f"{what}: the loss is {loss}: the weights answer with values that are not numbers"
        )
    loss, acc = round(loss, 6), round(acc, 6)  # as metrics.jsonl rounds them
    result = {"split": split, "loss": loss, "acc": acc, "samples": len(data)}
    if own:
        result["run_loss"] = {"loss": _loss_text(config.loss), "value": round(losses[1], 6)}
    result["metrics"] = {key: metric.compute() for key, metric in metrics}
    result["classes"] = list(splits.classes) if splits.classes else None
    if top_losses:
        worst = highest_losses(net, batches, top_losses, F.cross_entropy)
        names = [str(c) for c in splits.classes] if splits.classes else None
        for row in worst:
            row["true_name"] = names[row["true"]] if names else str(row["true"])
            row["predicted_name"] = names[row["predicted"]] if names else str(row["predicted"])
        result["top_losses"] = worst
        if picture is not None and worst:
            images = [data[row["index"]][0] for row in worst]
            labels = [
                f"{_short(r['true_name'])}>{_short(r['predicted_name'])} {r['probability']:.0%}"
                for r in worst
            ]
            shape = splits.input_shape or tuple(images[0].shape)
            result["picture"] = pictures.samples(images, labels, picture, shape)
    return result


def highest_losses(
    net: torch.nn.Module, batches: loop.Batches, n: int, criterion: Any
) -> list[dict[str, Any]]:
    """The ``n`` samples of ``batches`` the model gets most wrong: the highest per-sample loss
    (the run's loss when it is one of torch's, else cross-entropy), highest first."""
    per_sample = _per_sample(criterion)
    losses, trues, predicted, confidence, true_probability = [], [], [], [], []
    net.eval()
    with torch.inference_mode():
        for x, y in batches:
            out = net(x).float()
            probabilities = out.softmax(dim=1)
            best = probabilities.max(dim=1)
            losses.append(per_sample(out, y))
            trues.append(y)
            predicted.append(best.indices)
            confidence.append(best.values)
            true_probability.append(probabilities.gather(1, y.view(-1, 1)).view(-1))
    loss = torch.cat(losses)
    order = loss.argsort(descending=True, stable=True)[: min(n, len(loss))]
    columns = [torch.cat(c) for c in (trues, predicted, confidence, true_probability)]
    return [
        {
            "index": int(i),
            "true": int(columns[0][i]),
            "predicted": int(columns[1][i]),
            "probability": round(float(columns[2][i]), 6),
            "true_probability": round(float(columns[3][i]), 6),
            "loss": round(float(loss[i]), 6),
        }
        for i in order.tolist()
    ]


def _per_sample(criterion: Any) -> Any:
    if isinstance(criterion, torch.nn.modules.loss._Loss) and hasattr(criterion, "reduction"):
        each = copy.copy(criterion)
        each.reduction = "none"
        return each
    return lambda out, y: F.cross_entropy(out, y, reduction="none")


def _loss_text(loss: configs.Part) -> str:
    """``cross_entropy(label_smoothing=0.1)``: the run's loss as its config names it."""
    options = ", ".join(f"{k}={v!r}" for k, v in loss.options.items())
    return f"{loss.name}({options})" if options else loss.name


def _short(name: str, limit: int = 7) -> str:
    """A class name short enough for a caption."""
    return name if len(name) <= limit else name[: limit - 1] + "."
