"""The run directory: a durable, self-describing record of one training run, and the files in it
that are not weights (those are ``checkpoints``'s).

runs/<name>/<YYYYmmdd-HHMMSS>/
    config.yaml     the resolved config          env.json     python, torch, device, plugins
    model.json      what rebuilds the model      metrics.jsonl one line per epoch
    checkpoints/, checkpoint.json, best.safetensors (see zoo.runs.checkpoints), curves.png
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..config import parse_yaml
from ..errors import ConfigError, ZooError
from ..files import write_atomic

RUNS_DIR = Path("runs")
CONFIG = "config.yaml"
MODEL = "model.json"
METRICS = "metrics.jsonl"


def check_out(out: str | Path) -> Path:
    """``--out`` must be a new or empty directory: a run never overwrites another's files."""
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(
            f"--out {path} exists and is not empty: choose a new directory (or `zoo resume` it)"
        )
    return path


def make_run_dir(name: str, out: str | Path | None = None) -> Path:
    """``out``, which must be new or empty, else a fresh ``runs/<name>/<YYYYmmdd-HHMMSS>``; a
    folder zoo cannot write to is an error now, not after the first epoch."""
    try:
        if out is not None:
            path = check_out(out)
            path.mkdir(parents=True, exist_ok=True)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            base = RUNS_DIR / name.replace(":", "-")
            for suffix in range(1000):  # two runs in the same second get -1, -2, ...
                path = base / (f"{stamp}-{suffix}" if suffix else stamp)
                try:
                    path.mkdir(parents=True)
                    break
                except FileExistsError:
                    continue
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        where = out if out is not None else RUNS_DIR
        raise ZooError(f"cannot write the run directory {where}: {exc.strerror or exc}") from exc
    return path


def model_info(config: dict[str, Any], splits: Any) -> dict[str, Any]:
    """model.json: what rebuilds the model without the dataset (see ``zoo.runs.trained``)."""
    return {
        "model": config["model"]["name"],
        "options": {k: v for k, v in config["model"].items() if k != "name"},
        "num_classes": splits.num_classes,
        "input_shape": list(splits.input_shape) if splits.input_shape else None,
        "classes": list(splits.classes) if splits.classes else None,
        "dataset": config["dataset"]["name"],
    }


def write_start(
    run_dir: Path,
    config: dict[str, Any],
    model: dict[str, Any],
    device: str,
    plugins: Iterable[Any] = (),
) -> None:
    """The files a run writes before its first epoch: config.yaml, model.json (``model``) and
    env.json (with the ``plugins`` that were loaded, as ``PluginInfo``)."""
    try:
        write_atomic(run_dir / CONFIG, yaml.safe_dump(config, sort_keys=False, width=1000).encode())
        write_atomic(run_dir / MODEL, json.dumps(model, indent=2).encode())
        env = environment(device, plugins)
        write_atomic(run_dir / "env.json", json.dumps(env, indent=2).encode())
    except OSError as exc:
        raise ZooError(f"cannot write to {run_dir}: {exc.strerror or exc}") from exc


def environment(device: str, plugins: Iterable[Any] = ()) -> dict[str, Any]:
    """What a run needs to be repeated: interpreter, torch, device, zoo and every plugin."""
    import platform

    import torch

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": device,
        "threads": torch.get_num_threads(),
        "plugins": {
            p.name: {"distribution": p.distribution, "version": p.version, "status": p.status}
            for p in plugins
        },
        "argv": sys.argv,
    }
    commit = _git_commit(Path(__file__).resolve().parents[3])
    if commit:
        env["git_commit"] = commit
    return env


def _git_commit(folder: Path) -> str | None:
    import subprocess

    if not (folder / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "-uno"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None


def read_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no {CONFIG})")
    return parse_yaml(path.read_text())


def read_model_info(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(run_dir) / MODEL).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{run_dir} has no readable model.json: {exc}") from exc


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl``; a line cut short by a kill is ignored."""
    rows = []
    try:
        lines = (Path(run_dir) / METRICS).read_text().splitlines()
    except FileNotFoundError:
        return rows
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    try:
        with open(run_dir / METRICS, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise ZooError(f"cannot write {run_dir / METRICS}: {exc.strerror or exc}") from exc


def rewrite_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Make ``metrics.jsonl`` hold exactly ``rows`` (on resume: the checkpoint's history)."""
    write_atomic(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in rows).encode())


def find_runs(root: Path = RUNS_DIR) -> list[Path]:
    """Every run directory below ``root`` (a folder with config.yaml and model.json), oldest
    first."""
    found = (p.parent for p in Path(root).rglob(CONFIG) if (p.parent / MODEL).exists())
    return sorted(found, key=lambda p: (p.stat().st_mtime, str(p)))
