"""``zoo csv-predict``: a model's answers for the rows of a CSV, written as Kaggle's digit
recognizer asks (``ImageId,Label``, ids from 1)."""

from __future__ import annotations

import csv as csv_module
import io
from pathlib import Path

import click

import zoo

from .table import read


@click.command(name="csv-predict")
@click.argument("source")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("submission.csv"),
    show_default=True,
    help="Where the answers go (ImageId,Label).",
)
@click.option("--label", default="label", show_default=True, help="The label column, if any.")
@click.option(
    "--max-value", type=float, default=255, show_default=True, help="The brightest pixel's value."
)
def csv_predict(source: str, table: Path, out: Path, label: str, max_value: float) -> None:
    """The class SOURCE (a run directory or registered weights) sees in each row of TABLE (a
    CSV of pixel columns, as the csv dataset reads), written to --out as ImageId,Label."""
    import torch

    try:
        rows = read(table, label, max_value)
        answers = zoo.predict(source, torch.from_numpy(rows.pixels), top=1)
    except zoo.ZooError as exc:
        raise click.ClickException(str(exc)) from None
    text = io.StringIO()
    writer = csv_module.writer(text, lineterminator="\n")
    writer.writerow(["ImageId", "Label"])
    for i, (_, guesses) in enumerate(answers, start=1):
        writer.writerow([i, guesses[0][0]])
    zoo.data.write_atomic(out, text.getvalue().encode())
    click.echo(f"wrote {out}: {len(answers):,} answers")
