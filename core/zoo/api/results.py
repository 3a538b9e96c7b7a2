"""The results table: one row per registered weights entry, from its card (dataset, test accuracy
and loss, parameters, FLOPs, training time, hardware), sorted by a column, as text, Markdown,
CSV or JSON. ``zoo list weights`` prints it; ``docs/results.md`` is its Markdown."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ConfigError
from ..hints import did_you_mean
from ..text import csv_cell, duration, markdown_cell, printable, si
from .catalog import _weights_line, current, get_weights

FORMATS = ("text", "markdown", "csv", "json")  # of the results table


@dataclass(frozen=True)
class Result:
    """One weights entry as the results table shows it (``None``: the card does not say)."""

    name: str
    model: str
    dataset: str
    test_acc: float | None  # of the published weights (one seed's)
    test_loss: float | None
    parameters: int | None
    flops: int | None
    train_seconds: float | None
    hardware: str | None
    plugin: str
    #: the same configuration over its seeds, where the card carries several: their count and
    #: the test accuracy's mean and sample standard deviation (``None``: one seed)
    seeds: int | None = None
    seeds_test_acc: float | None = None
    seeds_test_acc_sd: float | None = None
    problem: str | None = None  # why the card cannot be used (its other columns are None)

    @property
    def reproduce(self) -> str:
        """The one command that retrains these weights and compares them with the card."""
        return f"zoo reproduce {self.name}"


COLUMNS = tuple(f.name for f in fields(Result))[:-1]  # problem is said instead of them
#: What the text and Markdown tables show, in order: the seeds' three numbers in one cell.
SHOWN = ("name", "model", "dataset", "test_acc", "test_loss", "seeds", "parameters", "flops",
         "train_seconds", "hardware", "plugin")  # fmt: skip
#: Which way a column is sorted: the best first (accuracy high to low; loss, size, cost and time
#: low to high), names A to Z.
DESCENDING = ("test_acc", "seeds_test_acc")


def results(
    pattern: str | None = None, sort: str = "dataset", reverse: bool = False
) -> list[Result]:
    """Every registered weights entry (matching ``pattern``) as a :class:`Result`, sorted by the
    column ``sort`` (then by dataset and accuracy; ``reverse``: the other way round, the rows
    that do not record that column still after the others); an entry whose card cannot be used
    is a row that says why (``problem``), last: one broken card breaks only its own line."""
    if sort not in COLUMNS:
        hint = did_you_mean(sort, COLUMNS)
        raise ConfigError(f"cannot sort by '{sort}'{hint}: the columns are {', '.join(COLUMNS)}")
    rows: list[Result] = []
    broken: list[Result] = []
    for shown, entry in current().registries["weights"].listing(pattern):
        try:
            card = get_weights(shown)
        except Exception:
            unknown = {c: None for c in COLUMNS if c not in ("name", "plugin")}
            unusable = Result(shown, **unknown, plugin=entry.plugin, problem=_weights_line(shown))
            broken.append(unusable)
            continue
        metrics = card.metrics
        over = card.over_seeds("test_acc")
        rows.append(
            Result(
                name=shown,
                model=card.model,
                dataset=str(card.dataset["name"]),
                test_acc=metrics.get("test_acc"),
                test_loss=metrics.get("test_loss"),
                seeds=over[2] if over else None,
                seeds_test_acc=over[0] if over else None,
                seeds_test_acc_sd=over[1] if over else None,
                parameters=card.parameters,
                flops=card.flops,
                train_seconds=card.train_seconds,
                hardware=card.hardware,
                plugin=entry.plugin,
            )
        )
    rows.sort(key=lambda r: (r.dataset, -(r.test_acc or 0.0), r.name))  # the default order
    known = [r for r in rows if getattr(r, sort) is not None]
    unknown = [r for r in rows if getattr(r, sort) is None]
    if sort != "dataset":
        sign = -1 if sort in DESCENDING else 1
        if isinstance(getattr(known[0], sort, None) if known else None, str):
            known.sort(key=lambda r: getattr(r, sort).lower())
        else:
            known.sort(key=lambda r: sign * getattr(r, sort))
    if reverse:
        known.reverse()
    return known + unknown + broken


def format_results(rows: list[Result], format: str = "text", commands: bool = False) -> str:
    """``rows`` as ``text`` (aligned, sizes in k/M), ``markdown``, ``csv`` or ``json`` (the
    numbers as they are); ``commands`` adds each row's ``zoo reproduce`` command."""
    if format not in FORMATS:
        hint = did_you_mean(format, FORMATS)
        raise ConfigError(f"unknown format '{format}'{hint} (expected {', '.join(FORMATS)})")
    if format == "json":
        items = [asdict(r) | ({"reproduce": r.reproduce} if commands else {}) for r in rows]
        return json.dumps(items, indent=2)
    header = [*COLUMNS, "problem"] + (["reproduce"] if commands else [])
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for r in rows:  # text from a card stays text in a spreadsheet: no formula runs
            values = ["" if v is None else csv_cell(v) for v in asdict(r).values()]
            writer.writerow(values + ([r.reproduce] if commands else []))
        return out.getvalue().rstrip("\n")
    titles = [
        "weights",
        "model",
        "dataset",
        "test acc",
        "test loss",
        "over seeds",
        "params",
        "FLOPs",
        "trained in",
        "hardware",
        "plugin",
    ] + (["retrain"] if commands else [])
    table = [
        [_shown(key, getattr(r, key), r) for key in SHOWN]
        if r.problem is None
        else [r.name, printable(r.problem), *[""] * (len(SHOWN) - 2)]
        for r in rows
    ]
    if commands:
        table = [cells + [r.reproduce] for cells, r in zip(table, rows, strict=True)]
    if format == "markdown":
        right = {"test acc", "test loss", "over seeds", "params", "FLOPs", "trained in"}
        rule = ["---:" if t in right else "---" for t in titles]
        table = [[markdown_cell(cell) for cell in cells] for cells in table]
        if commands:
            table = [
                cells[:-1] + [f"`{r.reproduce}`"] for cells, r in zip(table, rows, strict=True)
            ]
        lines = [titles, rule, *table]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    good = [cells for cells, r in zip(table, rows, strict=True) if r.problem is None]
    widths = [max(len(line[i]) for line in [titles, *good]) for i in range(len(titles))]
    numeric = {3, 4, 5, 6, 7, 8}
    lines = []
    for cells, r in zip([titles, *table], [None, *rows], strict=True):
        if r is not None and r.problem is not None:  # one line that says why, in its place
            lines.append(f"{r.name.ljust(widths[0])}  {printable(r.problem)}")
            continue
        lines.append(
            "  ".join(
                cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
                for i, cell in enumerate(cells)
            ).rstrip()
        )
    return "\n".join(lines)


def seeds_cell(row: Result | None) -> str:
    """The over-seeds cell: the test accuracy's ``mean% ± sd (n)`` in points, ``1 seed``."""
    if row is None or row.seeds is None or row.seeds_test_acc is None:
        return "1 seed"
    sd = row.seeds_test_acc_sd or 0.0
    return f"{row.seeds_test_acc:.2%} ± {sd * 100:.2f} ({row.seeds})"


def _shown(key: str, value: Any, row: Result | None = None) -> str:
    """A cell as the text and Markdown tables show it: over seeds, ``mean ± sd (n)`` of the test
    accuracy where the card carries several seeds, ``1 seed`` where it does not."""
    if key == "seeds":
        return seeds_cell(row)
    if value is None:
        return "-"
    if key == "test_acc":
        return f"{value:.2%}"
    if key == "test_loss":
        return f"{value:.4f}"
    if key in ("parameters", "flops"):
        return si(value)
    if key == "train_seconds":
        return duration(value)
    return printable(str(value))
