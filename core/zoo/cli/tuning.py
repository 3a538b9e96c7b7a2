"""``zoo tune``: a search over a run's settings on Optuna, its workers and its state."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from .. import api
from .common import config_option, device_option, echo


@click.command()
@click.argument("name", required=False)
@config_option
@click.option("--space", "space", multiple=True, metavar="KEY=DIST",
              help="A key to search and its distribution: loguniform(a,b), uniform(a,b), "
                   "int(a,b), int(a,b,log), choice(x,y,...). Repeatable.")  # fmt: skip
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="A setting every trial has (--set dataset.path=...). Repeatable.")  # fmt: skip
@click.option("--trials", type=click.IntRange(1, 100_000), help="Finished trials to reach "
              "(default 20; with --join: the study's own).")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes training trials here at once.")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False), help="The study's folder (default: "
              "runs/studies/NAME-YYYYmmdd-HHMMSS); again to go on with it.")  # fmt: skip
@click.option(
    "--storage",
    metavar="URL",
    help="A database many machines share "
    "(postgresql://USER@HOST/DB); default: a journal file in the study's folder.",
)
@click.option("--study", "study_name", metavar="NAME", help="The Optuna study's name "
              "(default: NAME).")  # fmt: skip
@click.option("--sampler", type=click.Choice(["tpe", "random"]), default="tpe", show_default=True)
@click.option("--pruner", type=click.Choice(["median", "hyperband", "halving", "none"]),
              default="median", show_default=True)  # fmt: skip
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs of each trial.")
@click.option("--seed", type=int, help="Seed of each trial's run (and of the sampler).")
@click.option("--objective", metavar="seconds_to:METRIC=VALUE", help="What a trial is judged "
              "by, instead of the run's monitor: the training seconds it takes to reach a "
              "value (seconds_to:val_acc=0.99; the least is best).")  # fmt: skip
@click.option("--seeds", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Train each configuration at this many seeds (seed, seed+1, ...): its value "
              "the mean, shown as mean ± sd (n).")  # fmt: skip
@device_option("Where each trial trains.")
@click.option("--join", "join_dir", type=click.Path(file_okay=False, exists=True),
              help="Add workers to the study in this folder, as it was started.")  # fmt: skip
@click.option("--status", "status_dir", type=click.Path(file_okay=False, exists=True),
              help="Print the study in this folder: trials, best, importances.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="With --status: text or JSON.")  # fmt: skip
@click.option("--worker-index", type=int, hidden=True)
@click.option("--mixed-seed", is_flag=True, hidden=True)
def tune(
    name: str | None,
    config_file: str | None,
    space: tuple[str, ...],
    overrides: tuple[str, ...],
    trials: int | None,
    workers: int,
    out: str | None,
    storage: str | None,
    study_name: str | None,
    sampler: str,
    pruner: str,
    epochs: int | None,
    seed: int | None,
    seeds: int,
    objective: str | None,
    device: str | None,
    join_dir: str | None,
    status_dir: str | None,
    fmt: str,
    worker_index: int | None,
    mixed_seed: bool,
) -> None:
    """Search NAME's settings on Optuna: each trial a run directory (STUDY/trial-0007/), its
    epochs reported to the trial (a pruner may stop it), its best monitored value the trial's.

    \b
      zoo tune bn_cnn --space optimizer.lr=loguniform(1e-3,1) --space model.width=int(8,64) \\
          --trials 20 --workers 2 --epochs 3 --out runs/studies/bn
      zoo tune --join runs/studies/bn        another worker (here, or on a machine sharing it)
      zoo tune --status runs/studies/bn      trials, the best, the parameters' importances
    """
    if status_dir is not None:
        _print_status(api.tune_status(status_dir), fmt)
        return
    if worker_index is not None and join_dir is not None:
        api.tuning.work_one(join_dir, worker_index, trials, mixed_seed)
        return
    if join_dir is not None:
        api.join_study(join_dir, workers=workers, trials=trials, verbose=True)
        _print_status(api.tune_status(join_dir), "text")
        return
    if name is None:
        raise click.UsageError("give NAME (the run to search), or --join / --status STUDY_DIR")
    out = out or str(api.tuning.default_folder(name))
    api.tune(
        name,
        space,
        trials=trials or 20,
        config=config_file,
        overrides=overrides,
        out=out,
        storage=storage,
        study=study_name,
        sampler=sampler,
        pruner=pruner,
        workers=workers,
        epochs=epochs,
        seed=seed,
        seeds=seeds,
        objective=objective,
        device=device,
        verbose=True,
    )
    _print_status(api.tune_status(out), "text")


def _print_status(found: dict[str, Any], fmt: str) -> None:
    plan = found["plan"]
    if fmt == "json":
        body = {k: v for k, v in found.items() if k not in ("plan", "folder")}
        body |= {"folder": str(found["folder"]), "metric": plan.metric, "mode": plan.mode}
        echo(json.dumps(_plain(body), indent=2, default=str, allow_nan=False))
        return
    rows = found["trials"]
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    counted = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    echo(f"study {plan.study!r} in {found['folder']}: {len(rows)} trials ({counted or 'none'}); "
         f"{plan.metric} ({plan.mode}) of {plan.name}")  # fmt: skip
    keys = list(plan.grid or plan.space)
    head = ["trial", "state", plan.metric, "epochs", *keys, "dir"]
    table = [head]
    for r in sorted(rows, key=lambda r: r["number"]):
        value = "-" if r["value"] is None else _over_seeds(r)
        params = [_cell(r["params"].get(k)) for k in keys]
        table.append([str(r["number"]), r["state"], value, str(r["epochs"]), *params,
                      r["run_dir"] or "-"])  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    best = found["best"]
    if best:
        shown = " ".join(f"--set {k}={_cell(v)}" for k, v in best["params"].items())
        echo(f"best: trial {best['number']}, {plan.metric} {_over_seeds(best)} "
             f"({found['folder']}/{best['run_dir']}): {shown}")  # fmt: skip
    if found["importances"]:
        shown = ", ".join(f"{k} {v:.2f}" for k, v in found["importances"].items())
        echo(f"importances (Optuna's fANOVA): {shown}")


def _plain(value: Any) -> Any:
    """JSON's own values: a trial that never reached its target (infinity) is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _over_seeds(row: dict[str, Any]) -> str:
    """A trial's value: ``mean ± sd (n)`` over its seeds, or the one seed's, named as such."""
    seeds = row.get("seeds") or {}
    if len(seeds) > 1 and isinstance(row.get("sd"), float):
        return f"{row['value']:.4f} ± {row['sd']:.4f} ({len(seeds)})"
    return f"{row['value']:.4f}"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
