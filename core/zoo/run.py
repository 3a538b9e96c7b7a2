"""Assemble a run from its resolved config and train it: dataset, model and optimizer from the
registries; after every epoch a checkpoint, a metrics line and the curves; ``resume`` picks a run
up from its last complete checkpoint and ends exactly where an uninterrupted run would."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import api, distributed, runs
from .config import SECTIONS
from .errors import UnknownNameError, ZooError


def section_options(config: Mapping[str, Any], section: str) -> dict[str, Any]:
    """A section's options without its ``name``."""
    return {k: v for k, v in config[section].items() if k != "name"}


def check_options(config: Mapping[str, Any]) -> None:
    """Every section names a registered entry that takes the options given (no torch needed)."""
    for section in SECTIONS:
        try:
            entry = getattr(api, f"get_{section}")(config[section]["name"])
        except UnknownNameError as exc:
            raise UnknownNameError(f"{section}.name: {exc}") from exc
        entry.check(section_options(config, section), where=f"{section}.")


@dataclass
class Prepared:
    """Everything a run needs, built before its run directory is made: a mistake in the config
    or a failed download leaves no half-made run behind."""

    config: dict[str, Any]
    splits: Any
    model: Any
    optimizer: Any
    device: Any
    shuffler: Any
    scaler: Any = None  # fp16's GradScaler (None for full precision and bf16)

    def summary(self) -> str:
        params = sum(p.numel() for p in self.model.parameters())
        return (
            f"{len(self.splits.train):,} train / {len(self.splits.valid):,} valid samples, "
            f"{params:,} parameters, device {self.device}"
        )

    def model_info(self) -> dict[str, Any]:
        """What rebuilds the model without the dataset (see zoo.inference.load_run)."""
        return {
            "model": self.config["model"]["name"],
            "options": section_options(self.config, "model"),
            "num_classes": self.splits.num_classes,
            "input_shape": list(self.splits.input_shape) if self.splits.input_shape else None,
            "classes": list(self.splits.classes) if self.splits.classes else None,
            "dataset": self.config["dataset"]["name"],
        }


def model_context(num_classes: int | None, input_shape: Any) -> dict[str, Any]:
    context = {
        "num_classes": num_classes,
        "input_shape": tuple(input_shape) if input_shape else None,
    }
    return {k: v for k, v in context.items() if v is not None}


def prepare(config: Mapping[str, Any], device: str | None = None) -> Prepared:
    """Build the dataset, the model (seeded) and the optimizer ``config`` names."""
    import torch

    from . import train  # torch is imported here, when there is training to do

    config = dict(config)
    check_options(config)
    device = train.select_device(device or config.get("device", "auto"))
    if distributed.active():
        device = distributed.init(device.type)
    train.set_threads(config.get("threads", "auto"), device)
    if not distributed.is_main():
        distributed.barrier()  # rank 0 downloads and prepares the data; the others wait...
    quiet = {} if distributed.is_main() else {"progress": False}  # only rank 0 prints
    splits = api.get_dataset(config["dataset"]["name"]).create(
        context=quiet, **section_options(config, "dataset")
    )
    if distributed.is_main():
        distributed.barrier()  # ...then read it from the cache
    seed = config.get("seed", 0)
    train.seed_everything(seed)
    model = (
        api.get_model(config["model"]["name"])
        .create(
            context=model_context(splits.num_classes, splits.input_shape),
            **section_options(config, "model"),
        )
        .to(device)
    )
    optimizer = api.get_optimizer(config["optimizer"]["name"]).create(
        model.parameters(), **section_options(config, "optimizer")
    )
    shuffler = torch.Generator().manual_seed(seed)  # its own stream: model init does not move it
    if distributed.active():  # same seed, same weights; DDP also broadcasts rank 0's
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    scaler = train.grad_scaler(device, config.get("amp", False))
    return Prepared(config, splits, model, optimizer, device, shuffler, scaler)


def start(run: Prepared, run_dir: Path) -> None:
    """The files a new run writes before its first epoch."""
    runs.write_start(run_dir, run.config, run.model_info(), str(run.device))


def train(
    run: Prepared,
    run_dir: Path,
    *,
    history: list[dict[str, Any]] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    progress: Any = None,
    keep_last: int = 1,
    plot: bool = True,
) -> list[dict[str, Any]]:
    """Train to ``config["epochs"]``; after each epoch: checkpoint, then metrics, then curves."""
    from . import checkpoint, train

    config = run.config
    history = list(history or [])

    def epoch_done(row: dict[str, Any]) -> None:
        history.append(row)
        if distributed.is_main():  # only rank 0 writes; every rank meets the barrier below
            checkpoint.save(
                run_dir,
                row["epoch"],
                getattr(run.model, "module", run.model),  # the model inside DDP
                run.optimizer,
                run.shuffler,
                history,
                keep_last=keep_last,
                scaler=run.scaler,
            )
            runs.append_metrics(run_dir, row)
            if plot:
                _draw_curves(run_dir, history)
            if on_epoch is not None:
                on_epoch(row)
        distributed.barrier()

    train.fit(
        run.model,
        run.optimizer,
        run.splits.train,
        run.splits.valid,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        valid_batch_size=config.get("valid_batch_size"),
        shuffle=config.get("shuffle", True),
        device=run.device,
        shuffler=run.shuffler,
        history=list(history),
        on_epoch=epoch_done,
        amp=config.get("amp", False),
        scaler=run.scaler,  # the one each checkpoint saves
        progress=progress,
    )
    return history


def resume(
    run_dir: Path,
    *,
    epochs: int | None = None,
    device: str | None = None,
) -> tuple[Prepared, list[dict[str, Any]]]:
    """A prepared run restored to its last complete checkpoint: weights, optimizer, every random
    stream, and ``metrics.jsonl`` cut back to the checkpoint's epochs."""
    from . import checkpoint

    run_dir = Path(run_dir)
    config = runs.read_config(run_dir)
    point = checkpoint.last(run_dir)
    if point is None:
        raise ZooError(
            f"{run_dir} has no complete checkpoint to resume from: start it again with zoo run"
        )
    if epochs is not None and epochs != config["epochs"]:
        config["epochs"] = epochs
        if distributed.is_main():
            runs.write_start(run_dir, config, runs.read_model_info(run_dir), device or "auto")
    run = prepare(config, device=device)
    state = checkpoint.load_state(point)
    checkpoint.load_weights(getattr(run.model, "module", run.model), point.weights, run.device)
    run.optimizer.load_state_dict(state["optimizer"])
    checkpoint.set_rng_state(state["rng"], run.shuffler)  # the same on every rank
    if run.scaler is not None and "scaler" in state:
        run.scaler.load_state_dict(state["scaler"])
    history = state["history"]
    if distributed.is_main():
        # drop rows of an epoch whose checkpoint never landed
        runs.rewrite_metrics(run_dir, history)
        checkpoint.prune(run_dir, keep_last=None)  # only what a killed save left half-written
        for stale in run_dir.rglob(".*.part"):  # temp files of writes a kill cut short
            stale.unlink(missing_ok=True)
    distributed.barrier()
    return run, history


def _draw_curves(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """curves.png, redrawn in a few tens of milliseconds (Pillow); a failed plot is never worth
    a failed run, so drawing errors are ignored."""
    from . import plots

    with contextlib.suppress(Exception):
        plots.curves(history, run_dir / "curves.png", title=str(run_dir))
