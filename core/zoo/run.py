"""Assemble a run from its resolved config: dataset, model and optimizer from the registries, then
train, writing ``config.yaml`` and ``metrics.jsonl`` into the run directory."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import api
from .config import SECTIONS
from .errors import ConfigError, UnknownNameError

RUNS_DIR = Path("runs")


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


def check_out(out: str | Path) -> Path:
    """``--out`` must be a new or empty directory: a run never overwrites another's files."""
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(f"--out {path} exists and is not empty: choose a new directory")
    return path


def make_run_dir(name: str, out: str | Path | None = None) -> Path:
    """``out``, which must be new or empty, else a fresh ``runs/<name>/<YYYYmmdd-HHMMSS>``."""
    if out is not None:
        path = check_out(out)
        path.mkdir(parents=True, exist_ok=True)
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = RUNS_DIR / name.replace(":", "-") / stamp
    for suffix in range(1000):  # two runs in the same second get -1, -2, ...
        path = base.with_name(f"{stamp}-{suffix}") if suffix else base
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise ConfigError(f"cannot create a run directory under {base.parent}")


@dataclass
class Prepared:
    """Everything a run needs, built before its run directory is made: a mistake in the config
    or a failed download leaves no half-made run behind."""

    config: Mapping[str, Any]
    splits: Any
    model: Any
    optimizer: Any
    device: Any

    def summary(self) -> str:
        params = sum(p.numel() for p in self.model.parameters())
        return (
            f"{len(self.splits.train):,} train / {len(self.splits.valid):,} valid samples, "
            f"{params:,} parameters, device {self.device}"
        )


def prepare(config: Mapping[str, Any]) -> Prepared:
    """Build the dataset, model (seeded) and optimizer ``config`` names."""
    from . import train  # torch is imported here, when there is training to do

    check_options(config)
    device = train.select_device(config.get("device", "auto"))
    splits = api.get_dataset(config["dataset"]["name"]).create(**section_options(config, "dataset"))
    train.seed_everything(config.get("seed", 0))
    context = {"num_classes": splits.num_classes, "input_shape": splits.input_shape}
    context = {k: v for k, v in context.items() if v is not None}
    model = (
        api.get_model(config["model"]["name"])
        .create(context=context, **section_options(config, "model"))
        .to(device)
    )
    optimizer = api.get_optimizer(config["optimizer"]["name"]).create(
        model.parameters(), **section_options(config, "optimizer")
    )
    return Prepared(config, splits, model, optimizer, device)


def execute(
    run: Prepared,
    run_dir: Path,
    *,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Train a prepared run; ``config.yaml`` is written first and ``metrics.jsonl`` gets a line
    as each epoch ends."""
    from . import train

    config = run.config
    (run_dir / "config.yaml").write_text(yaml.safe_dump(dict(config), sort_keys=False, width=1000))
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as metrics:

        def record(row: dict[str, Any]) -> None:
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()
            if on_epoch is not None:
                on_epoch(row)

        return train.fit(
            run.model,
            run.optimizer,
            run.splits.train,
            run.splits.valid,
            epochs=config["epochs"],
            batch_size=config["batch_size"],
            valid_batch_size=config.get("valid_batch_size"),
            shuffle=config.get("shuffle", True),
            device=run.device,
            seed=config.get("seed", 0),
            on_epoch=record,
            progress=progress,
        )
