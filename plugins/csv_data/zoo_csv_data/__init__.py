"""A zoo plugin: images as rows of a CSV file, the dataset ``csv`` (the layout of Kaggle's digit
recognizer: a header, a ``label`` column and one column per pixel, row-major), and
``zoo csv-predict``, which writes a model's answers for a CSV without labels as Kaggle asks.

    zoo run bn_cnn --set dataset.name=csv --set dataset.path=digit-recognizer/
    zoo csv-predict runs/bn_cnn-... digit-recognizer/test.csv --out submission.csv

``path`` is a CSV file (its rows are split into train and a seeded, stratified ``valid``
share) or a folder holding ``train.csv`` and, when there, ``valid.csv`` and ``test.csv`` (a
``test.csv`` without labels is left to ``zoo csv-predict``). Pixel values run 0..``max_value``
(255); rows are square pictures, grey or RGB, unless ``shape`` says otherwise.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import zoo

from .table import MAX_SHAPE, image_shape, read

ZOO_HOOKSPEC_VERSION = 1  # the zoo hook specs this plugin was written for


def csv(
    path: str,
    label: str = "label",
    shape: list[int] | None = None,
    max_value: float = 255,
    valid: float = 0.1,
    seed: int = 0,
    classes: list[str] | None = None,
    progress: bool = True,
) -> zoo.Splits:
    """Images as CSV rows: a label column and one column per pixel (Kaggle's digit recognizer).

    ``shape``: [height, width] (or [channels, height, width]) when the rows are not square
    pictures; ``max_value``: the brightest pixel's value; ``valid``: the share of each class held
    out when there is no valid.csv; ``classes`` names the labels 0..K-1."""
    import torch
    from torch.utils.data import TensorDataset

    start = time.perf_counter()
    if not 0 < valid < 1:
        raise zoo.ConfigError(f"dataset.valid: expected a share between 0 and 1, got {valid!r}")
    if not max_value > 0:
        raise zoo.ConfigError(f"dataset.max_value: expected a positive number, got {max_value!r}")
    files = _files(Path(path).expanduser())
    tables = {split: read(file, label, max_value) for split, file in files.items()}
    if tables["train"].labels is None:
        raise zoo.DataError(f"{files['train']}: no {label!r} column to learn from (dataset.label)")
    if "valid" in tables and tables["valid"].labels is None:
        raise zoo.DataError(f"{files['valid']}: no {label!r} column")
    if "test" in tables and tables["test"].labels is None:
        del tables["test"]  # the file to predict: zoo csv-predict
        if progress:
            print(
                f"zoo: csv: {files['test']} has no labels: it is left out (zoo csv-predict RUN "
                f"{files['test']} --out submission.csv answers it)",
                file=sys.stderr,
            )
    widths = {split: t.pixels.shape[1] for split, t in tables.items()}
    if len(set(widths.values())) != 1:
        raise zoo.DataError(f"{path}: the files' rows have different numbers of pixels ({widths})")
    full = image_shape(widths["train"], shape, str(files["train"]))
    if "valid" not in tables:
        train, held = zoo.data.stratified(tables["train"].labels, valid, seed)
        whole = tables["train"]
        parts = {
            "train": (whole.pixels[train], whole.labels[train]),
            "valid": (whole.pixels[held], whole.labels[held]),
        }
    else:
        parts = {"train": (tables["train"].pixels, tables["train"].labels)}
        parts["valid"] = (tables["valid"].pixels, tables["valid"].labels)
    if "test" in tables:
        parts["test"] = (tables["test"].pixels, tables["test"].labels)
    count = zoo.data.class_count([y for _, y in parts.values()], classes, str(path))
    splits = {
        s: TensorDataset(torch.from_numpy(x), torch.from_numpy(y)) for s, (x, y) in parts.items()
    }
    if progress:
        rows = sum(len(y) for _, y in parts.values())
        took = time.perf_counter() - start
        print(f"zoo: csv: {rows:,} rows read from {path} in {took:.2f} s", file=sys.stderr)
    return zoo.Splits(
        train=splits["train"],
        valid=splits["valid"],
        test=splits.get("test"),
        num_classes=count,
        input_shape=full,
        classes=tuple(classes) if classes else None,
        digest=zoo.data.digest(*(a for t in tables.values() for a in (t.pixels, t.labels))),
    )


def _files(path: Path) -> dict[str, Path]:
    if path.is_dir():
        found = {s: path / f"{s}.csv" for s in ("train", "valid", "test")}
        found = {s: p for s, p in found.items() if p.is_file()}
        if "train" not in found:
            raise zoo.DataError(f"{path}: no train.csv in this folder")
        return found
    if not path.is_file():
        raise zoo.DataError(f"{path}: no such file or folder (a CSV, or a folder with train.csv)")
    return {"train": path}


@zoo.hookimpl
def register_datasets(register):
    register("csv", csv, max_input_shape=MAX_SHAPE)


@zoo.hookimpl
def register_commands(cli):
    from .predict import csv_predict

    cli.add_command(csv_predict)
