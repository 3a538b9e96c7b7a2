"""A sweep: one run directory per point of a grid of overrides, under one folder that remembers
the grid (sweep.json), so the same command later skips the finished runs and resumes an
interrupted one (each run's status is its ``RunDir``'s).

    runs/sweeps/<name>-<YYYYmmdd-HHMMSS>/
        sweep.json       the run, the grid, the fixed overrides, the metric
        lr=0.1/          a run directory per point (zoo resume works on each)
        lr=0.05/ ...
        sweep.png        every run's curves in one figure
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import best_row as config_best_row
from ..config import parse_override
from ..errors import ConfigError, ZooError
from ..files import write_atomic
from ..text import printable, shown
from . import directory

FILE = "sweep.json"
MAX_RUNS = 1000


def split_values(text: str) -> list[str]:
    """``"0.1,0.05,[1,2]"`` -> ``["0.1", "0.05", "[1,2]"]``: commas inside brackets, braces or
    quotes stay."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def parse_grid(overrides: Iterable[str]) -> tuple[dict[str, list[Any]], list[str]]:
    """``--set`` texts -> (the grid: key -> its values, the fixed overrides). A value with a
    top-level comma is a list of values to sweep."""
    grid: dict[str, list[Any]] = {}
    fixed: list[str] = []
    for text in overrides:
        key, sep, raw = text.partition("=")
        values = split_values(raw) if sep else [raw]
        if len(values) < 2:
            fixed.append(text)
            continue
        parsed = [parse_override(f"{key}={value}")[1] for value in values]
        if key.strip() in grid:
            raise ConfigError(f"--set {key.strip()}: given twice in the sweep")
        grid[key.strip()] = parsed
    return grid, fixed


def points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in the order given; each its own folder name."""
    keys = list(grid)
    count = 1
    for key, values in grid.items():
        count *= len(values)
        written = [json.dumps(v, sort_keys=True) for v in values]
        if len(set(written)) != len(written):
            raise ConfigError(f"--set {key}: a value is given twice in the sweep")
    if count > MAX_RUNS:
        raise ConfigError(f"the sweep has {count:,} runs: more than {MAX_RUNS:,}")
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]
    names: dict[str, dict[str, Any]] = {}
    for point in combos:
        other = names.setdefault(label(point), point)
        if other is not point:
            raise ConfigError(
                f"the sweep's points {shown(other)} and {shown(point)} would share the folder "
                f"{label(point)}: give values that differ in letters or digits"
            )
    return combos


def label(point: Mapping[str, Any]) -> str:
    """The folder name of a point: ``lr=0.1-momentum=0.9`` (the last part of each key, unless
    two keys end alike)."""
    short = [key.rsplit(".", 1)[-1] for key in point]
    names = short if len(set(short)) == len(short) else list(point)
    parts = []
    for name, value in zip(names, point.values(), strict=True):
        shown = value if isinstance(value, str) else json.dumps(value)
        parts.append(f"{name}={shown}")
    return re.sub(r"[^A-Za-z0-9._=,+-]+", "_", "-".join(parts))[:120]


def read(folder: Path) -> dict[str, Any]:
    """A sweep folder's record (sweep.json), its shape checked."""
    path = folder / FILE
    try:
        before = directory.read_json(path)
    except ValueError as exc:
        raise ZooError(f"{path} is unreadable: {exc}") from exc
    grid = before.get("grid") if isinstance(before, dict) else None
    if (
        not isinstance(grid, dict)
        or not isinstance(before.get("name"), str)
        or not all(isinstance(v, list) and len(v) >= 1 for v in grid.values())
        or not isinstance(before.get("fixed", []), list)
    ):
        raise ZooError(f"{path} is not a sweep zoo wrote: expected its name, grid and metric")
    return before


def open_folder(
    name: str,
    grid: Mapping[str, Sequence[Any]],
    fixed: Sequence[str],
    metric: str,
    out: Any,
    **more: Any,
) -> Path:
    """The sweep's folder: ``out`` (new, empty, or holding this same sweep) or a new one.
    ``more``: what else sweep.json records for another worker (epochs, seed, mode, storage)."""
    record = {"name": name, "grid": grid, "fixed": list(fixed), "metric": metric, **more}
    folder = Path(out) if out else directory.RUNS_DIR / "sweeps" / f"{name}-{_stamp()}"
    path = folder / FILE
    if path.is_file() or path.is_symlink():
        before = read(folder)
        same = {k: before.get(k) for k in ("name", "grid", "fixed")}
        if same != json.loads(json.dumps({k: record[k] for k in ("name", "grid", "fixed")})):
            grid_keys = ", ".join(map(str, before["grid"]))
            raise ConfigError(
                f"{folder} holds another sweep ({shown(before.get('name'))} over "
                f"{printable(grid_keys)}): choose another --out"
            )
        return folder
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"--out {folder} exists and is not a sweep's folder: choose another")
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
    return folder


def over_seeds(
    results: Sequence[Mapping[str, Any]], metric: str, mode: str
) -> list[dict[str, Any]]:
    """A sweep's runs that differ only in ``seed``, as one configuration each: its best
    ``metric`` at every seed, their mean and sample standard deviation (``n`` seeds; ``sd`` is
    ``None`` for one), best mean first."""
    import statistics

    groups: dict[str, dict[str, Any]] = {}
    for result in results:
        point = {k: v for k, v in result["point"].items() if k != "seed"}
        value = result["best"].get(metric)
        if not isinstance(value, (int, float)):
            continue
        group = groups.setdefault(json.dumps(point, sort_keys=True), {"point": point, "seeds": {}})
        group["seeds"][result["point"].get("seed")] = float(value)
    rows = []
    for group in groups.values():
        values = list(group["seeds"].values())
        sd = statistics.stdev(values) if len(values) > 1 else None
        rows.append(group | {"mean": statistics.fmean(values), "sd": sd, "n": len(values)})
    rows.sort(key=lambda r: r["mean"], reverse=mode == "max")
    return rows


def best_row(history: Sequence[Mapping[str, Any]], metric: str, mode: str) -> Mapping[str, Any]:
    """A run's best row by the sweep's ``metric`` (``zoo.config.best_row``: the one rule)."""
    best = config_best_row(history, metric, mode)
    if best is None:
        raise ConfigError(f"--metric {metric}: the runs' metrics rows have no such number")
    return best


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")
