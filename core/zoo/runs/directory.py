"""The run directory: a durable, self-describing record of one training run, and the files in it
that are not weights (those are ``checkpoints``'s).

runs/<name>/<YYYYmmdd-HHMMSS>/
    config.yaml     the resolved config          env.json     python, torch, device, plugins
    model.json      what rebuilds the model      metrics.jsonl one line per epoch
    checkpoints/, checkpoint.json, best.safetensors (see zoo.runs.checkpoints), curves.png
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..config import dump_yaml, parse_yaml, validate
from ..errors import ConfigError, ZooError
from ..files import write_atomic

#: A run directory someone shared is untrusted input: its files are read with these limits (far
#: above what zoo writes: a config is a few hundred bytes, a metrics line about 150).
MAX_TEXT = 1 << 20
MAX_METRICS = 64 << 20
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
        write_atomic(run_dir / CONFIG, dump_yaml(config).encode())
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


def read_text(path: Path, limit: int = MAX_TEXT) -> str:
    """A text file of a run directory, refused (one line) when it is larger than ``limit`` or
    not UTF-8: nothing zoo writes is."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ZooError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise ZooError(f"{path} is larger than zoo ever writes one ({limit:,} bytes): not read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ZooError(f"{path} is not text: not a file zoo wrote") from exc


def read_config(run_dir: Path) -> dict[str, Any]:
    """config.yaml, checked like any config (and without YAML aliases)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no {CONFIG})")
    try:
        config = parse_yaml(read_text(path), aliases=False)
        if not isinstance(config, dict) or not isinstance(config.get("name"), str):
            raise ConfigError("expected a mapping with the run's name")
        validate({k: v for k, v in config.items() if k != "name"})
    except ConfigError as exc:
        raise ConfigError(f"{path} is not a run config zoo wrote: {exc}") from exc
    except Exception as exc:  # a YAML error
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path} is not a run config zoo wrote: {problem}") from exc
    return config


def read_model_info(run_dir: Path) -> dict[str, Any]:
    """model.json, every field checked: it says which factory to call with what."""
    path = Path(run_dir) / MODEL
    try:
        info = json.loads(read_text(path))
    except FileNotFoundError as exc:
        raise ConfigError(f"{run_dir} has no {MODEL}: not a run directory") from exc
    except ValueError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from exc
    problem = _model_info_problem(info)
    if problem:
        raise ConfigError(f"{path} is not a model description zoo wrote: {problem}")
    return info


def _model_info_problem(info: Any) -> str | None:
    if not isinstance(info, dict):
        return "expected a JSON object"
    if not isinstance(info.get("model"), str) or not info["model"]:
        return "'model' must name a model"
    if not isinstance(info.get("options", {}), dict):
        return "'options' must be an object"
    count = info.get("num_classes")
    if count is not None and (not _positive_int(count) or count > 1_000_000):
        return "'num_classes' must be a positive integer"
    shape = info.get("input_shape")
    if shape is not None and not (
        isinstance(shape, list) and 1 <= len(shape) <= 4 and all(map(_positive_int, shape))
    ):
        return "'input_shape' must be a list of 1 to 4 positive integers"
    classes = info.get("classes")
    if classes is not None and (
        not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)
    ):
        return "'classes' must be a list of names"
    return None


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


METRIC_KEYS = ("epoch", "train_loss", "val_loss", "val_acc")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl``; a line cut short by a kill, or one that is not a metrics
    row, is left out."""
    try:
        lines = read_text(Path(run_dir) / METRICS, MAX_METRICS).splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and _is_metrics_row(row):
            rows.append(row)
    return rows


def _is_metrics_row(row: dict[str, Any]) -> bool:
    numbers = all(
        isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool)
        for k in METRIC_KEYS
    )
    return numbers and _positive_int(row["epoch"])


LOCK = ".zoo.lock"
OWNER = ".zoo.lock.owner"  # who holds the lock, for the message a second process gets


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run directory for one process (a run, a resume): a second one is refused with a
    line saying who holds it, instead of interleaving epochs in the same files."""
    from filelock import FileLock, Timeout

    run_dir = Path(run_dir)
    lock = FileLock(run_dir / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            owner = (run_dir / OWNER).read_text().strip()[:200] or "another zoo process"
        except OSError:
            owner = "another zoo process"
        raise ZooError(
            f"{run_dir} is in use by {owner}: wait for it to end (or stop it), then try again"
        ) from None
    except OSError as exc:
        raise ZooError(f"cannot write to {run_dir}: {exc.strerror or exc}") from exc
    try:
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        with contextlib.suppress(OSError):
            (run_dir / OWNER).write_text(f"zoo (pid {os.getpid()} on {_host()}, since {started})")
        yield
    finally:
        with contextlib.suppress(OSError):
            (run_dir / OWNER).unlink()
        lock.release()


def _host() -> str:
    import socket

    return socket.gethostname()


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
