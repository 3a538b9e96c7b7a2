"""Looking at runs and data: ``eval``, ``predict``, ``runs``, ``plot`` and ``show-samples``."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import api
from ..runs.export import FORMATS
from ..text import printable
from .common import dataset_options, device_option, echo, out_option, set_option, source_argument

weights_option = click.option(
    "--weights",
    type=click.Choice(["last", "best"]),
    default="last",
    show_default=True,
    help="A run's last epoch's weights or its best's (not for registered weights).",
)


@click.command(name="eval")
@source_argument
@click.option("--split", type=click.Choice(["valid", "test"]), default="valid", show_default=True)
@weights_option
@set_option
@device_option("Where to evaluate (default: auto, whatever device the run trained on).")
@out_option(
    "Where a confusion matrix goes (default: the run directory; for weights, here).", folder=True
)
@click.option(
    "--top-losses",
    type=click.IntRange(0, 1000),
    default=0,
    metavar="N",
    help="Draw the N samples the model gets most wrong, with true and predicted classes.",
)
def eval_(
    source: str,
    split: str,
    weights: str,
    overrides: tuple[str, ...],
    device: str | None,
    out: str | None,
    top_losses: int,
) -> None:
    """Loss and accuracy of a run's model (RUN_DIR) or of registered WEIGHTS (cnn.mnist) on the
    valid or test split of the dataset they were trained on, and the run's chosen metrics
    (--set 'metrics=[top_k, confusion_matrix]' chooses others)."""
    result = api.evaluate(
        source,
        split=split,
        which=weights,
        overrides=overrides,
        device=device,
        out=out,
        top_losses=top_losses,
    )
    echo(
        f"{result['source']} on {split} ({result['samples']:,} samples): "
        f"loss {result['loss']:.4f}, accuracy {result['acc']:.2%}"
    )
    if "run_loss" in result:  # the loss above is the plain one; the run trained with another
        own = result["run_loss"]
        echo(f"  the run's own loss, {own['loss']}: {own['value']:.4f}")
    for key, value in result.get("metrics", {}).items():
        if key == "confusion_matrix":
            echo(f"  confusion matrix: {' and '.join(map(str, result['files']))}")
        elif isinstance(value, list):
            names = result.get("classes") or [str(i) for i in range(len(value))]
            pairs = zip(map(printable, names), value, strict=False)
            shown = ", ".join(f"{n} {v:.1%}" if v is not None else f"{n} -" for n, v in pairs)
            echo(f"  {key}: {shown}")
        else:
            echo(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
    worst = result.get("top_losses")
    if worst:
        echo(f"  the {len(worst)} {split} samples with the highest loss (true > predicted):")
        for row in worst[:5]:
            echo(
                f"    #{row['index']}: {printable(row['true_name'])} > "
                f"{printable(row['predicted_name'])} ({row['probability']:.1%}), "
                f"loss {row['loss']:.3f}"
            )
        if len(worst) > 5:
            echo(f"    ... and {len(worst) - 5} more")
        if result.get("picture"):
            echo(f"  picture: {result['picture']}")


@click.command()
@source_argument
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many of the most likely classes to show.",
)
@weights_option
@device_option("Where to compute (default: auto, whatever device the run trained on).")
def predict(
    source: str, images: tuple[str, ...], top: int, weights: str, device: str | None
) -> None:
    """The class a run's model (RUN_DIR) or registered WEIGHTS (cnn.mnist) see in each image
    (PNG, JPEG...; any size, colour or grey); a folder stands for the pictures in it."""
    guessed = api.predict(source, images, top=top, which=weights, device=device)
    for image, guesses in guessed:
        shown = ", ".join(f"{printable(name)} {prob:.1%}" for name, prob in guesses)
        echo(f"{printable(image)}: {shown}")


@click.command(name="runs")
@click.argument("root", default="runs", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "format_",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table to read, or JSON lines for programs (one object per run).",
)
def runs_(root: str, format_: str) -> None:
    """Past runs below ROOT (default ./runs): name, date, status (new, unfinished, complete,
    stopped, training, broken), epochs, and the best epoch's val loss and accuracy (the best by
    each run's monitor)."""
    found = api.list_runs(root)
    if format_ == "json":
        for run in found:
            echo(json.dumps(_run_json(run)))
        return
    if not found:
        echo(f"no runs in {root}/ yet (zoo run NAME makes one)")
        return
    rows = []
    for run in found:
        if run.config is None:  # one bad run is listed as such; the others are still shown
            rows.append(("-", run.date, "broken", "-", "-", "-", f"{run.dir}: {run.problem}"))
            continue
        best = run.best
        rows.append(
            (
                run.config.name,
                run.date,
                run.status,
                f"{run.epochs_done}/{run.config.epochs}",
                f"{best['val_loss']:.4f}" if best else "-",
                f"{best['val_acc']:.2%}" if best else "-",
                str(run.dir),
            )
        )
    last = len(_RUNS_HEADER) - 1
    widths = [max(len(r[i]) for r in rows + [_RUNS_HEADER]) for i in range(last)]
    for row in [_RUNS_HEADER, *rows]:
        echo("  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=False)) + "  " + row[last])


_RUNS_HEADER = ("name", "date", "status", "epochs", "val_loss", "val_acc", "dir")


def _run_json(run: api.RunSummary) -> dict[str, Any]:
    """One run for programs: the status and its reason, what it trains, how far, its best row's
    numbers. Text from the run's files is escaped as on the terminal (``zoo.text``)."""
    config, best = run.config, run.best or {}
    return {
        "dir": printable(str(run.dir), 1000),
        "status": run.status,
        "reason": printable(run.reason, 500) if run.reason else None,
        "name": config.name if config else None,
        "model": config.model.name if config else None,
        "dataset": config.dataset.name if config else None,
        "epochs_done": run.epochs_done,
        "epochs": config.epochs if config else None,
        "monitor": config.monitor if config else None,
        "best": {k: v for k, v in best.items() if isinstance(v, (int, float))} or None,
        "modified": round(run.modified, 3),
    }


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@out_option("The picture to write.", default="runs.png")
def plot(run_dirs: tuple[str, ...], out: str) -> None:
    """Compare runs: loss and accuracy curves of each RUN_DIR in one figure."""
    picture, skipped = api.plot(run_dirs, out)
    for reason in skipped:
        echo(f"zoo: skipped {reason}", err=True)
    echo(f"wrote {picture}")


@click.command(name="show-samples")
@click.argument("dataset")
@set_option
@click.option(
    "--split", type=click.Choice(["train", "valid", "test"]), default="train", show_default=True
)
@click.option("--count", type=click.IntRange(1, 200), default=32, show_default=True)
@out_option("The picture to write (default: DATASET-samples.png).")
def show_samples(
    dataset: str, overrides: tuple[str, ...], split: str, count: int, out: str | None
) -> None:
    """A grid of DATASET's images with their labels, as the tutorial's imshow."""
    options = dataset_options(dataset, overrides)
    echo(f"wrote {api.show_samples(dataset, split, count, out, **options)}")


@click.command()
@source_argument
@click.option(
    "--format",
    "format_",
    type=click.Choice([*FORMATS, "hf"]),
    default="onnx",
    show_default=True,
    help="onnx, pt2, or hf: a folder in the Hugging Face Hub's layout.",
)
@out_option(
    "The file to write (default: WEIGHTS.onnx or MODEL-RUN.onnx here); for hf, the folder.",
    folder=None,
)
@weights_option
@device_option("Where to trace the model (default: cpu; the file runs anywhere).")
def export(source: str, format_: str, out: str | None, weights: str, device: str | None) -> None:
    """Write trained weights as ONNX (onnxruntime...) or PT2 (torch.export.load): files that load
    without zoo; or as a Hugging Face Hub folder (model.safetensors, config.json, a README.md
    model card) that zoo predict, eval, run --init and hf://OWNER/NAME load back. ONNX needs
    the export extra: pip install 'torch-zoo[export]'."""
    path = api.export(source, format=format_, out=out, which=weights, device=device)
    if format_ == "hf":
        files = ", ".join(
            f"{p.name} ({p.stat().st_size / 1000:,.1f} kB)" for p in sorted(path.iterdir())
        )
        echo(f"wrote {path}/: {files}")
        echo(f"  zoo predict {path} PICTURE; upload: hf upload OWNER/NAME {path}")
        return
    size = path.stat().st_size
    echo(f"wrote {path} ({size / 1000:,.1f} kB, {format_}; input: a batch of flat rows)")
