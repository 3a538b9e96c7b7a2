"""Training and using runs: ``run``, ``resume``, ``eval``, ``predict``, ``runs``, ``plot`` and
``show-samples``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from .. import runs
from ..errors import ZooError
from .common import (
    Bar,
    config_option,
    dataset_options,
    device_option,
    progress_option,
    resolve,
    set_option,
)

keep_last_option = click.option(
    "--keep-last",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Complete checkpoints to keep (best.safetensors is kept as well).",
)
run_dir_argument = click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
weights_option = click.option(
    "--weights",
    type=click.Choice(["last", "best"]),
    default="last",
    show_default=True,
    help="The last epoch's weights or the best's.",
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


@click.command(name="eval")
@run_dir_argument
@click.option("--split", type=click.Choice(["valid", "test"]), default="valid", show_default=True)
@weights_option
@set_option
@device_option("Where to evaluate (default: the run's).")
def eval_(
    run_dir: str, split: str, weights: str, overrides: tuple[str, ...], device: str | None
) -> None:
    """Loss and accuracy of RUN_DIR's model on its dataset's valid or test split."""
    from ..inference import evaluate_run

    result = evaluate_run(run_dir, split=split, weights=weights, overrides=overrides, device=device)
    click.echo(
        f"{run_dir} ({weights} weights) on {split} ({result['samples']:,} samples): "
        f"loss {result['loss']:.4f}, accuracy {result['acc']:.2%}"
    )


@click.command()
@run_dir_argument
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many of the most likely classes to show.",
)
@weights_option
def predict(run_dir: str, images: tuple[str, ...], top: int, weights: str) -> None:
    """The class RUN_DIR's model sees in each image (PNG, JPEG...; any size, colour or grey)."""
    from ..inference import predict as predict_images

    for image, guesses in predict_images(run_dir, images, top=top, weights=weights):
        shown = ", ".join(f"{name} {prob:.1%}" for name, prob in guesses)
        click.echo(f"{image}: {shown}")


@click.command(name="runs")
@click.argument("root", default="runs", type=click.Path(file_okay=False))
def runs_(root: str) -> None:
    """Past runs below ROOT (default ./runs): name, date, epochs, best val loss and accuracy."""
    found = runs.find_runs(Path(root))
    if not found:
        click.echo(f"no runs in {root}/ yet (zoo run NAME makes one)")
        return
    rows = []
    for run_dir in found:
        metrics = runs.read_metrics(run_dir)
        config = runs.read_config(run_dir)
        best = min(metrics, key=lambda r: r["val_loss"]) if metrics else None
        date = time.strftime("%Y-%m-%d %H:%M", time.localtime(run_dir.stat().st_mtime))
        rows.append(
            (
                config.get("name", run_dir.parent.name),
                date,
                f"{len(metrics)}/{config.get('epochs', '?')}",
                f"{best['val_loss']:.4f}" if best else "-",
                f"{best['val_acc']:.2%}" if best else "-",
                str(run_dir),
            )
        )
    widths = [max(len(r[i]) for r in rows + [_RUNS_HEADER]) for i in range(5)]
    for row in [_RUNS_HEADER, *rows]:
        click.echo(
            "  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=False)) + "  " + row[5]
        )


_RUNS_HEADER = ("name", "date", "epochs", "val_loss", "val_acc", "dir")


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    default="runs.png",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The picture to write.",
)
def plot(run_dirs: tuple[str, ...], out: str) -> None:
    """Compare runs: loss and accuracy curves of each RUN_DIR in one figure."""
    from .. import plots

    histories = {}
    for run_dir in run_dirs:
        metrics = runs.read_metrics(Path(run_dir))
        if not metrics:
            raise ZooError(f"{run_dir} has no finished epoch to plot")
        label = Path(run_dir).parent.name + "/" + Path(run_dir).name
        histories[label] = metrics
    click.echo(f"wrote {plots.compare(histories, Path(out))}")


@click.command(name="show-samples")
@click.argument("dataset")
@set_option
@click.option(
    "--split", type=click.Choice(["train", "valid", "test"]), default="train", show_default=True
)
@click.option("--count", type=click.IntRange(1, 200), default=32, show_default=True)
@click.option(
    "--out",
    default=None,
    type=click.Path(dir_okay=False),
    help="The picture to write (default: DATASET-samples.png).",
)
def show_samples(
    dataset: str, overrides: tuple[str, ...], split: str, count: int, out: str | None
) -> None:
    """A grid of DATASET's images with their labels, as the seed's imshow."""
    from .. import api, plots

    options = dataset_options(dataset, overrides)
    splits = api.create_dataset(dataset, **options)
    data = getattr(splits, split)
    if data is None:
        raise ZooError(f"dataset '{dataset}' has no {split} split")
    images, labels = [], []
    for i in range(min(count, len(data))):
        x, y = data[i]
        images.append(x.numpy())
        label = int(y)
        labels.append(splits.classes[label] if splits.classes else str(label))
    path = plots.samples(images, labels, Path(out or f"{dataset}-samples.png"))
    click.echo(f"wrote {path}")
