"""``zoo run`` and ``zoo resume``: parse the options, call ``zoo.train`` / ``zoo.resume`` (which
print the run as it goes), nothing else."""

from __future__ import annotations

import json
import shlex
from typing import Any

import click

from .. import api
from ..config import PRECISIONS
from .common import (
    bars,
    config_option,
    data_option,
    device_option,
    echo,
    nproc_option,
    out_option,
    progress_option,
    run_dir_argument,
    set_option,
)

keep_last_option = click.option(
    "--keep-last",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Complete checkpoints to keep (best.safetensors is kept as well).",
)


class Precision(click.Choice):
    """bf16 or fp16. ``--amp`` takes an optional value, so ``zoo run --amp cnn`` reads ``cnn``
    as the precision: the error says so."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value not in self.choices:
            self.fail(
                f"{value!r} is not bf16 or fp16 (--amp takes an optional value: put it after "
                "the run's name, e.g. zoo run cnn --amp)",
                param,
                ctx,
            )
        return value


@click.command()
@click.argument("name")
@config_option
@set_option
@click.option("--epochs", type=click.IntRange(min=1), help="Number of epochs.")
@click.option("--seed", type=int, help="Random seed (same seed, same device: same numbers).")
@device_option("Where to train (auto: cuda, then mps, then cpu).")
@out_option("Run directory (default: runs/NAME/YYYYmmdd-HHMMSS).", folder=True)
@keep_last_option
@progress_option
@click.option(
    "--amp",
    type=Precision(PRECISIONS),
    is_flag=False,
    flag_value="bf16",
    default=None,
    help="Mixed precision: --amp (bf16) or --amp fp16 (with loss scaling); CPU, CUDA.",
)
@nproc_option(
    "Train in N processes on this machine (torch.distributed through torchrun, DDP).", default=1
)
@click.option(
    "--init",
    metavar="WEIGHTS|RUN_DIR",
    help="Start from trained weights (e.g. cnn.mnist, or a run's best) instead of random ones.",
)
def run(
    name: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    epochs: int | None,
    seed: int | None,
    device: str | None,
    out: str | None,
    keep_last: int,
    no_progress: bool,
    amp: str | None,
    nproc_per_node: int,
    init: str | None,
) -> None:
    """Train NAME: a run from zoo.yaml, or any registered model with the defaults."""
    if init is not None:
        overrides = (*overrides, f"init={init}")
    api.train(
        name,
        config=config_file,
        overrides=overrides,
        out=out,
        epochs=epochs,
        seed=seed,
        device=device,
        amp=amp,
        progress=bars(no_progress),
        verbose=True,
        keep_last=keep_last,
        nproc_per_node=nproc_per_node,
    )


@click.command()
@run_dir_argument
@click.option("--epochs", type=click.IntRange(min=1), help="Train to this many epochs instead.")
@data_option
@device_option("Where to continue (the same device gives the same numbers).")
@keep_last_option
@progress_option
@nproc_option(
    "Continue in N processes (default: as many as trained the run, for the same numbers)."
)
def resume(
    run_dir: str,
    epochs: int | None,
    overrides: tuple[str, ...],
    device: str | None,
    keep_last: int,
    no_progress: bool,
    nproc_per_node: int | None,
) -> None:
    """Continue RUN_DIR from its last complete checkpoint to its configured epochs."""
    api.resume(
        run_dir,
        epochs,
        overrides=overrides,
        device=device,
        progress=bars(no_progress),
        verbose=True,
        keep_last=keep_last,
        nproc_per_node=nproc_per_node,
    )


@click.command()
@click.argument("weights")
@out_option("Run directory (default: runs/NAME/YYYYmmdd-HHMMSS).", folder=True)
@data_option
@device_option("Where to train (the card's device gives the card's numbers).")
@progress_option
def reproduce(
    weights: str, out: str | None, overrides: tuple[str, ...], device: str | None, no_progress: bool
) -> None:
    """Train registered WEIGHTS (e.g. cnn.mnist) again from their recorded recipe, and compare."""
    card = api.get_weights(weights)
    progress = bars(no_progress)
    result = api.reproduce(
        weights, out=out, overrides=overrides, device=device, progress=progress, verbose=True
    )
    recipe = card.recipe
    echo(
        f"{weights}: card made with torch {recipe.get('versions', {}).get('torch', '?')} on "
        f"{recipe.get('device', '?')} ({recipe.get('threads', '?')} threads); "
        f"this run: {result.run.dir}"
    )
    echo(f"  {'':<10}  {'card':>10}  {'reproduced':>10}")
    for key, want, have in result.rows:
        mark = "same" if want == have else "differs"
        echo(f"  {key:<10}  {_cell(want):>10}  {_cell(have):>10}  {mark}")
    verdict = "reproduced exactly" if result.exact else "not the same numbers"
    echo(f"{verdict}: {result.matches} of {len(result.rows)} match")
    if result.other_data:
        (_, card_data, run_data), *_ = (f for f in result.differing if f[0] == "data")
        echo(
            f"  other data: the card's was read as sha256 {card_data[:12]}..., this run's as "
            f"{(run_data or 'unrecorded')[:12]}... (other pictures or rows, or read another way: "
            "other numbers are expected)"
        )
    if not result.exact:
        gaps = result.gaps
        accuracies = [g for k, g in gaps.items() if k.endswith("acc")]
        losses = [g for k, g in gaps.items() if not k.endswith("acc")]
        far = []
        if accuracies:
            most = max(accuracies)
            far.append(
                f"accuracies within {100 * most:.2f} points" if most else "accuracies the same"
            )
        if losses:
            most = max(losses)
            far.append(f"losses within {100 * most:.1f}%" if most else "losses the same")
        how = "close to the card's" if result.close else "far from the card's"
        echo(f"  {how}: {', '.join(far)}" if far else f"  {how}")
        differing = result.differing
        for what, card_fact, here in differing:
            if what != "data":  # said above
                echo(f"  {what} differs: the card's {card_fact}, this run's {here}")
        if not differing:
            echo(
                "  every fact the card records is the same here (torch, device, threads, hardware)"
            )
        echo(
            "  bit-identical numbers need the same torch, device, threads and processes, and the "
            "same kind of CPU (kernels differ by instruction set)"
        )
    if not result.deterministic:
        echo("note: its recipe says deterministic: false: the same numbers are not promised")


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value[:10]
    return "-" if value is None else f"{value:g}"


@click.command()
@click.argument("name")
@config_option
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=A,B,...",
    help="Values to sweep (comma-separated) or one to fix: --set optimizer.lr=0.1,0.05.",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Number of epochs of each run.")
@click.option("--seed", type=int, help="Random seed of each run.")
@device_option("Where to train.")
@out_option(
    "The sweep's folder (default: runs/sweeps/NAME-YYYYmmdd-HHMMSS); again to resume it.",
    folder=True,
)
@click.option(
    "--metric", default="val_loss", show_default=True, help="What the table is sorted by."
)
@click.option("--mode", type=click.Choice(["min", "max"]), help="min for a loss, else max.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes training the points here at once.")  # fmt: skip
@click.option("--storage", metavar="URL", help="A database many machines share "
              "(postgresql://USER@HOST/DB); default: a journal file in the sweep's "
              "folder.")  # fmt: skip
@progress_option
def sweep(
    name: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    epochs: int | None,
    seed: int | None,
    device: str | None,
    out: str | None,
    metric: str,
    mode: str | None,
    workers: int,
    storage: str | None,
    no_progress: bool,
) -> None:
    """Train NAME once per combination of the swept values, each run in its own directory under
    one folder; print them best first and draw their curves in one figure. The same command with
    --out DIR skips finished runs and resumes an interrupted one; run again elsewhere (the folder
    shared, or --storage), it adds a worker. The grid is an Optuna study (its grid sampler)."""
    folder, results = api.sweep(
        name,
        overrides,
        config=config_file,
        out=out,
        metric=metric,
        mode=mode,
        epochs=epochs,
        seed=seed,
        device=device,
        storage=storage,
        workers=workers,
        progress=bars(no_progress) and workers == 1,
        verbose=True,
    )
    if not results:
        echo(f"sweep {name}: no run finished yet (each is trained by a worker elsewhere)")
        return
    keys = list(results[0]["point"])
    header = [*keys, metric, "epoch", "epochs", "dir"]
    rows = []
    for result in results:
        best = result["best"]
        value = best[metric]
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        values = [_value(result["point"][k]) for k in keys]
        rows.append([*values, shown, str(best["epoch"]), str(result["epochs"]), str(result["dir"])])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    echo(f"sweep {name}: {len(results)} runs, best {metric} first")
    for row in [header, *rows]:
        echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if "seed" in keys:
        from ..plugins.builtin import auto_mode

        _print_over_seeds(name, results, metric, mode or auto_mode(metric, "auto"))
    echo(f"curves of every run in {folder / 'sweep.png'}")


def _print_over_seeds(name: str, results: list[dict[str, Any]], metric: str, mode: str) -> None:
    """Each configuration over its seeds: mean ± sd (n), a single seed named as such."""
    from ..runs.sweeps import over_seeds

    grouped = over_seeds(results, metric, mode)
    keys = list(grouped[0]["point"]) if grouped else []
    header = [*keys, f"{metric} mean ± sd (n)", "seeds"]
    rows = []
    for group in grouped:
        if group["sd"] is None:
            shown = f"{group['mean']:.4f} (1 seed)"
        else:
            shown = f"{group['mean']:.4f} ± {group['sd']:.4f} ({group['n']})"
        seeds = ",".join(str(s) for s in sorted(group["seeds"], key=lambda s: (str(type(s)), s)))
        rows.append([*(_value(group["point"][k]) for k in keys), shown, seeds])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    echo(f"sweep {name}: {len(grouped)} configurations over seeds, best mean {metric} first")
    for row in [header, *rows]:
        echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@click.command(name="lr-find")
@click.argument("name")
@config_option
@set_option
@click.option("--start", type=float, default=1e-7, show_default=True, help="The first rate.")
@click.option("--end", type=float, default=10.0, show_default=True, help="The last rate.")
@click.option(
    "--steps", type=click.IntRange(5, 100_000), default=100, show_default=True, help="Steps."
)
@device_option("Where to train (auto: cuda, then mps, then cpu).")
@out_option("The plot of the loss against the rate.", default="lr-find.png")
def lr_find(
    name: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    start: float,
    end: float,
    steps: int,
    device: str | None,
    out: str,
) -> None:
    """A learning-rate range test of NAME (a run, or a model): train from its initial weights
    with the rate growing from --start to --end, plot the loss and suggest a rate. Writes no
    run directory."""
    echo(f"zoo lr-find {name}: {steps} steps, learning rate {start:g} to {end:g}")
    found = api.lr_find(
        name,
        config=config_file,
        overrides=overrides,
        start=start,
        end=end,
        steps=steps,
        device=device,
        out=out,
    )
    if found.stopped_early:
        echo(f"  the loss blew up at {found.lrs[-1]:.2g}: stopped after {len(found.lrs)} steps")
    if found.suggestion is None:
        echo("  no suggestion: the loss did not fall (try a wider range, or more --steps)")
    else:
        same = ([f"--config {shlex.quote(config_file)}"] if config_file else []) + [
            f"--set {shlex.quote(o)}" for o in overrides if not o.startswith("optimizer.lr=")
        ]  # the run it measured: its data and settings
        command = " ".join([f"zoo run {shlex.quote(name)}", *same])
        echo(
            f"  suggested learning rate: {found.suggestion:.2g} (try it: {command} --set "
            f"optimizer.lr={found.suggestion:.2g})"
        )
    if found.plot is not None:
        echo(f"  plot: {found.plot}")
