"""Training: ``run`` and ``resume`` (in one process, or several through torchrun)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import runs
from ..errors import ZooError
from .common import (
    Bar,
    config_option,
    device_option,
    progress_option,
    resolve,
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
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Run directory (default: runs/NAME/YYYYmmdd-HHMMSS).",
)
@keep_last_option
@progress_option
@click.option(
    "--amp",
    type=Precision(["bf16", "fp16"]),
    is_flag=False,
    flag_value="bf16",
    default=None,
    help="Mixed precision: --amp (bf16) or --amp fp16 (with loss scaling); CPU, CUDA.",
)
@click.option(
    "--nproc-per-node",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Train in N processes on this machine (torch.distributed through torchrun, DDP).",
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
) -> None:
    """Train NAME: a run from zoo.yaml, or any registered model with the defaults."""
    from .. import distributed
    from .. import run as runner

    cfg = resolve(
        name,
        config_file,
        overrides,
        {"epochs": epochs, "seed": seed, "device": device, "amp": amp},
    )
    runner.check_options(cfg)
    if out is not None:
        runs.check_out(out)  # a taken --out fails before any download
    if nproc_per_node > 1 and not distributed.active():
        args = ["run", name, "--keep-last", str(keep_last)]
        args += ["--config", config_file] if config_file else []
        for flag, value in (
            ("--epochs", epochs),
            ("--seed", seed),
            ("--device", device),
            ("--out", out),
        ):
            args += [flag, str(value)] if value is not None else []
        args += [item for override in overrides for item in ("--set", override)]
        args += ["--no-progress"] if no_progress else []
        args += ["--amp", amp] if amp else []
        distributed.launch(nproc_per_node, args)
        return
    say = click.echo if distributed.is_main() else _quiet
    say(f"zoo run {name}: {_summary(cfg)}")
    prepared = runner.prepare(cfg)  # a rank failing here ends the run through torchrun
    try:
        say(f"  {prepared.summary()}")
        run_dir = Path(".")  # only rank 0 writes
        if distributed.is_main():
            run_dir = runs.make_run_dir(name, out)
            runner.start(prepared, run_dir)
            say(f"  writing {run_dir}")
        _train_everywhere(prepared, run_dir, [], keep_last, no_progress, say)
    finally:
        distributed.cleanup()


def _quiet(*args: Any, **kwargs: Any) -> None:
    """What ranks other than 0 print."""


@click.command()
@run_dir_argument
@click.option("--epochs", type=click.IntRange(min=1), help="Train to this many epochs instead.")
@device_option("Where to continue (the same device gives the same numbers).")
@keep_last_option
@progress_option
@click.option(
    "--nproc-per-node",
    type=click.IntRange(min=1),
    default=None,
    help="Continue in N processes (default: as many as trained the run, for the same numbers).",
)
def resume(
    run_dir: str,
    epochs: int | None,
    device: str | None,
    keep_last: int,
    no_progress: bool,
    nproc_per_node: int | None,
) -> None:
    """Continue RUN_DIR from its last complete checkpoint to its configured epochs."""
    from .. import checkpoint, distributed
    from .. import run as runner

    point = checkpoint.last(Path(run_dir))
    trained_by = point.world_size if point is not None else 1
    if not distributed.active():
        nproc = nproc_per_node or trained_by
        if nproc > 1:
            args = ["resume", run_dir, "--keep-last", str(keep_last)]
            args += ["--epochs", str(epochs)] if epochs is not None else []
            args += ["--device", device] if device is not None else []
            args += ["--no-progress"] if no_progress else []
            distributed.launch(nproc, args)
            return
    say = click.echo if distributed.is_main() else _quiet
    prepared, history = runner.resume(Path(run_dir), epochs=epochs, device=device)
    try:
        total = prepared.config["epochs"]
        if len(history) >= total:
            say(
                f"{run_dir} is complete: {len(history)} of {total} epochs "
                "(zoo resume --epochs N trains further)"
            )
            return
        say(f"zoo resume {run_dir}: from epoch {len(history)} of {total}")
        say(f"  {prepared.summary()}")
        if distributed.world_size() != trained_by:
            say(
                f"  note: trained in {trained_by} process(es), continued in "
                f"{distributed.world_size()}: the numbers will differ from an uninterrupted run"
            )
        _train_everywhere(prepared, Path(run_dir), history, keep_last, no_progress, say)
    finally:
        distributed.cleanup()


def _train_everywhere(
    prepared: Any,
    run_dir: Path,
    history: list[dict[str, Any]],
    keep_last: int,
    no_progress: bool,
    say: Any,
) -> None:
    """_train on this rank; with several, say so and check the ranks agree at the end."""
    from .. import distributed

    world = distributed.world_size()
    if world > 1:
        say(f"  {world} processes (ranks), global batch {prepared.config['batch_size']}")
    _train(prepared, run_dir, history, keep_last, no_progress or not distributed.is_main(), say)
    if world > 1:
        same = distributed.weights_in_sync(prepared.model)
        say(f"  weights identical on all {world} ranks: {same}")


def _train(
    prepared: Any,
    run_dir: Path,
    history: list[dict[str, Any]],
    keep_last: int,
    no_progress: bool,
    say: Any = click.echo,
) -> None:
    from .. import distributed
    from .. import run as runner

    header = f"  {'epoch':>5}  {'train_loss':>10}  {'val_loss':>8}  {'val_acc':>7}  {'seconds':>7}"
    say(header)
    for row in history:
        say(_row_text(row))
    try:
        history = runner.train(
            prepared,
            run_dir,
            history=history,
            on_epoch=lambda row: say(_row_text(row)),
            progress=None if no_progress or not sys.stderr.isatty() else Bar,
            keep_last=keep_last,
        )
    except KeyboardInterrupt:
        if distributed.is_main():  # the one rank that knows the run directory
            click.echo(
                f"\ninterrupted: the last complete checkpoint in {run_dir} is intact; "
                f"continue with:\n  zoo resume {run_dir}",
                err=True,
            )
        raise SystemExit(130) from None
    except ZooError as exc:
        raise ZooError(
            f"{exc}\n  (run directory: {run_dir}; zoo resume {run_dir} continues "
            "from the last good checkpoint)"
        ) from exc
    best = min(history, key=lambda r: r["val_loss"])
    say(
        f"best val_loss {best['val_loss']:.4f} (epoch {best['epoch']}), "
        f"val_acc {best['val_acc']:.2%}; curves in {run_dir / 'curves.png'}"
    )


def _row_text(row: dict[str, Any]) -> str:
    return (
        f"  {row['epoch']:>5}  {row['train_loss']:>10.4f}  {row['val_loss']:>8.4f}  "
        f"{row['val_acc']:>7.2%}  {row['epoch_seconds']:>7.1f}"
    )


def _summary(cfg: dict[str, Any]) -> str:
    def section(key: str) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in cfg[key].items() if k != "name")
        return f"{cfg[key]['name']}({opts})" if opts else cfg[key]["name"]

    shuffled = "shuffled" if cfg.get("shuffle", True) else "in order"
    amp = cfg.get("amp", False)
    return (
        f"model {section('model')}, dataset {section('dataset')}, optimizer "
        f"{section('optimizer')}, {cfg['epochs']} epochs, batch {cfg['batch_size']} "
        f"{shuffled}, seed {cfg.get('seed', 0)}"
        + (f", amp {'bf16' if amp is True else amp}" if amp else "")
    )
