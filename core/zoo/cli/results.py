"""Looking at runs and data: ``eval``, ``predict``, ``runs``, ``plot`` and ``show-samples``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .. import api, files
from ..errors import ZooError
from ..files import printable
from ..runs import directory
from .common import dataset_options, device_option, set_option, source_argument

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
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Where a confusion matrix goes (default: the run directory; for weights, here).",
)
def eval_(
    source: str,
    split: str,
    weights: str,
    overrides: tuple[str, ...],
    device: str | None,
    out: str | None,
) -> None:
    """Loss and accuracy of a run's model (RUN_DIR) or of registered WEIGHTS (cnn.mnist) on the
    valid or test split of the dataset they were trained on, and the run's chosen metrics
    (--set 'metrics=[top_k, confusion_matrix]' chooses others)."""
    result = api.evaluate(source, split=split, weights=weights, overrides=overrides, device=device)
    click.echo(
        f"{result['source']} on {split} ({result['samples']:,} samples): "
        f"loss {result['loss']:.4f}, accuracy {result['acc']:.2%}"
    )
    folder = Path(out) if out else Path(source) if Path(source).is_dir() else Path()
    stem = "" if Path(source).is_dir() else f"{source}-"
    for key, value in result.get("metrics", {}).items():
        if key == "confusion_matrix":
            from ..runs import pictures

            folder.mkdir(parents=True, exist_ok=True)
            table = folder / f"{stem}confusion-{split}.json"
            body = {"rows": "true class", "columns": "predicted class"}
            body |= {"classes": result.get("classes"), "matrix": value}
            files.write_atomic(table, (json.dumps(body) + "\n").encode())
            picture = pictures.confusion(value, result.get("classes"), table.with_suffix(".png"))
            click.echo(f"  confusion matrix: {table} and {picture}")
        elif isinstance(value, list):
            names = result.get("classes") or [str(i) for i in range(len(value))]
            pairs = zip(map(printable, names), value, strict=False)
            shown = ", ".join(f"{n} {v:.1%}" if v is not None else f"{n} -" for n, v in pairs)
            click.echo(f"  {key}: {shown}")
        else:
            click.echo(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")


@click.command()
@source_argument
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
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
    (PNG, JPEG...; any size, colour or grey)."""
    guessed = api.predict(source, images, top=top, weights=weights, device=device)
    for image, guesses in guessed:
        shown = ", ".join(f"{printable(name)} {prob:.1%}" for name, prob in guesses)
        click.echo(f"{printable(image)}: {shown}")


@click.command(name="runs")
@click.argument("root", default="runs", type=click.Path(file_okay=False))
def runs_(root: str) -> None:
    """Past runs below ROOT (default ./runs): name, date, epochs, best val loss and accuracy."""
    found = directory.find_runs(Path(root))
    if not found:
        click.echo(f"no runs in {root}/ yet (zoo run NAME makes one)")
        return
    rows = []
    for run_dir in found:
        date = time.strftime("%Y-%m-%d %H:%M", time.localtime(run_dir.stat().st_mtime))
        try:
            metrics = directory.read_metrics(run_dir)
            config = directory.read_config(run_dir)
        except ZooError as exc:  # one bad run is listed as such; the others are still shown
            reason = str(exc).removeprefix(f"{run_dir / directory.CONFIG} ")
            rows.append(("(unreadable)", date, "-", "-", "-", f"{run_dir}: {reason}"))
            continue
        best = min(metrics, key=lambda r: r["val_loss"]) if metrics else None
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
    from ..runs import pictures

    histories = {}
    for run_dir in run_dirs:
        try:
            metrics = directory.read_metrics(Path(run_dir))
        except ZooError as exc:
            click.echo(f"zoo: skipped {run_dir}: {exc}", err=True)
            continue
        if not metrics:
            click.echo(f"zoo: skipped {run_dir}: no finished epoch to plot", err=True)
            continue
        label = Path(run_dir).parent.name + "/" + Path(run_dir).name
        histories[label] = metrics
    if not histories:
        raise ZooError("none of the runs has a finished epoch to plot")
    click.echo(f"wrote {pictures.compare(histories, Path(out))}")


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
    """A grid of DATASET's images with their labels, as the tutorial's imshow."""
    from ..runs import pictures

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
    shape = splits.input_shape or _shape_of(images[0])
    path = pictures.samples(images, labels, Path(out or f"{dataset}-samples.png"), shape)
    click.echo(f"wrote {path}")


def _shape_of(image: Any) -> tuple[int, ...]:
    """The shape of an image its dataset does not describe: its own, or a square of grey."""
    if image.ndim >= 2:
        return tuple(image.shape)
    side = int(round(image.size**0.5))
    if side * side != image.size:
        raise ZooError(f"cannot draw samples of {image.size} values: the dataset gives no shape")
    return (side, side)


@click.command()
@source_argument
@click.option(
    "--format", "format_", type=click.Choice(["onnx", "pt2"]), default="onnx", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="The file to write (default: WEIGHTS.onnx or MODEL-RUN.onnx here).",
)
@weights_option
@device_option("Where to trace the model (default: cpu; the file runs anywhere).")
def export(source: str, format_: str, out: str | None, weights: str, device: str | None) -> None:
    """Write trained weights as ONNX (onnxruntime...) or PT2 (torch.export.load): files that load
    without zoo. ONNX needs the export extra: pip install 'torch-zoo[export]'."""
    path = api.export(source, format=format_, out=out, weights=weights, device=device)
    size = path.stat().st_size
    click.echo(f"wrote {path} ({size / 1000:,.1f} kB, {format_}; input: a batch of flat rows)")
