"""Checkpoints that survive a kill: after every epoch, the weights as safetensors and the training
state (optimizer, epoch, history, every RNG: what the trainer hands over) in a file that
``torch.load(weights_only=True)`` reads.

    run_dir/checkpoints/epoch-0003/model.safetensors
    run_dir/checkpoints/epoch-0003/state.pt
    run_dir/checkpoint.json          the marker: names the last complete checkpoint, written last
    run_dir/best.safetensors         the weights of the epoch with the lowest val_loss

Every file is written to a temp file, fsync'd and renamed; the marker moves only once both files
of the new checkpoint are in place, so a kill at any moment leaves the previous one loadable.
Reading the marker needs no torch; reading or writing a checkpoint imports it.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import files
from ..errors import ZooError

if TYPE_CHECKING:
    import torch

MARKER = "checkpoint.json"
BEST = "best.safetensors"
FORMAT = 1
FOLDER = re.compile(r"^epoch-(\d{4,9})$")
MAX_STATE = 1 << 30  # a state.pt larger than this is not one zoo wrote for these models


@dataclass
class Checkpoint:
    """A complete checkpoint on disk."""

    epoch: int
    folder: Path
    world_size: int = 1  # the processes (ranks) that trained it

    @property
    def weights(self) -> Path:
        return self.folder / "model.safetensors"

    @property
    def state(self) -> Path:
        return self.folder / "state.pt"


def save(
    run_dir: Path,
    epoch: int,
    model: torch.nn.Module,
    state: dict[str, Any],
    *,
    best: bool,
    world_size: int = 1,
    keep_last: int = 1,
) -> None:
    """Write epoch ``epoch``'s checkpoint (``model``'s weights and the training ``state``), copy
    the weights to best.safetensors when ``best``, move the marker to it, then prune old ones."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import save_model

    folder = run_dir / "checkpoints" / f"epoch-{epoch:04d}"
    try:
        if folder.exists():  # left by a run killed while saving this epoch
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        point = Checkpoint(epoch, folder)
        with files.atomic(point.weights) as tmp:
            save_model(model, str(tmp))
        with files.atomic(point.state) as tmp:
            torch.save({"format": FORMAT, "epoch": epoch, **state}, tmp)
        files.fsync_dir(folder)
        if best:
            with files.atomic(run_dir / BEST) as tmp:
                shutil.copyfile(point.weights, tmp)
        marker = {
            "epoch": epoch,
            "folder": str(folder.relative_to(run_dir)),
            "world_size": world_size,
        }
        files.write_atomic(run_dir / MARKER, json.dumps(marker).encode())
        files.fsync_dir(run_dir)
    except (OSError, RuntimeError, SafetensorError) as exc:  # a full disk, a read-only one...
        raise ZooError(
            f"could not save the checkpoint of epoch {epoch} in {folder}: "
            f"{getattr(exc, 'strerror', None) or exc}; the previous checkpoint is intact"
        ) from exc
    prune(run_dir, keep_last)


def prune(run_dir: Path, keep_last: int | None) -> None:
    """Keep the newest ``keep_last`` complete checkpoints (``None``: all of them); remove older
    ones and any newer than the marker (half-written by a run that was killed)."""
    latest = last(run_dir)
    if latest is None:
        return
    for folder in sorted((run_dir / "checkpoints").glob("epoch-*")):
        match = FOLDER.match(folder.name)
        if match is None or folder.is_symlink() or not folder.is_dir():
            continue  # not a checkpoint zoo wrote: never zoo's to delete
        epoch = int(match.group(1))
        too_old = keep_last is not None and epoch <= latest.epoch - max(keep_last, 1)
        if epoch > latest.epoch or too_old:
            shutil.rmtree(folder, ignore_errors=True)


def clear_unfinished(run_dir: Path) -> None:
    """Before a run restarts from epoch 1: the checkpoint folders a killed first save began."""
    for folder in (Path(run_dir) / "checkpoints").glob("epoch-*"):
        if FOLDER.match(folder.name) and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
    clear_partial(run_dir)


def clear_partial(run_dir: Path) -> None:
    """The temp files zoo's writes leave when a kill cuts them short (``.NAME.*.part``)."""
    for stale in Path(run_dir).rglob(f".*{files.PARTIAL}"):
        if stale.is_file() and not stale.is_symlink():
            stale.unlink(missing_ok=True)


def last(run_dir: Path) -> Checkpoint | None:
    """The checkpoint the marker names, or ``None`` before the first one. Every field is
    checked: the folder must be this run's own ``checkpoints/epoch-NNNN`` of that epoch."""
    path = Path(run_dir) / MARKER
    try:
        with open(path, "rb") as f:
            marker = json.loads(f.read(4096))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ZooError(f"{path} is unreadable: {getattr(exc, 'strerror', None) or exc}") from exc
    epoch = marker.get("epoch") if isinstance(marker, dict) else None
    world = marker.get("world_size", 1) if isinstance(marker, dict) else None
    if not _count(epoch) or not _count(world) or epoch > 10**9:
        raise ZooError(f"{path} is not a marker zoo wrote: expected a positive epoch")
    folder = Path(run_dir) / "checkpoints" / f"epoch-{epoch:04d}"
    if marker.get("folder") != str(folder.relative_to(run_dir)):
        raise ZooError(
            f"{path} names the folder {marker.get('folder')!r}: a checkpoint of this run is "
            f"checkpoints/epoch-{epoch:04d}, inside it"
        )
    if folder.is_symlink() or not folder.resolve().is_relative_to(Path(run_dir).resolve()):
        raise ZooError(f"{folder} leads outside its run directory: not a checkpoint zoo wrote")
    return Checkpoint(epoch, folder, world)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def load_state(point: Checkpoint) -> dict[str, Any]:
    """The training state, read with ``weights_only=True`` (tensors and plain values only, no
    code) and checked: anything else is refused with one line."""
    import torch

    try:
        if point.state.stat().st_size > MAX_STATE:
            raise ZooError(f"{point.state} is larger than any training state zoo writes")
        with warnings.catch_warnings():  # torch's notes on a foreign pickle: the line below says it
            warnings.simplefilter("ignore")
            state = torch.load(point.state, map_location="cpu", weights_only=True)
    except ZooError:
        raise
    except OSError as exc:
        raise ZooError(f"cannot read {point.state}: {exc.strerror or exc}") from exc
    except Exception as exc:  # a pickle with code in it, garbage, a truncated file
        raise ZooError(
            f"{point.state} is not a training state zoo wrote ({type(exc).__name__}); "
            "nothing in it was run"
        ) from exc
    problem = _state_problem(state, point.epoch)
    if problem:
        raise ZooError(f"{point.state} is not a training state zoo wrote: {problem}")
    return state


def _state_problem(state: Any, epoch: int) -> str | None:
    if not isinstance(state, dict):
        return "expected a mapping"
    if state.get("format") != FORMAT:
        return f"format {state.get('format')!r}, expected {FORMAT}"
    if state.get("epoch") != epoch:
        return f"epoch {state.get('epoch')!r}, but its marker says {epoch}"
    if not isinstance(state.get("optimizer"), dict) or not isinstance(state.get("rng"), dict):
        return "no optimizer or random state"
    history = state.get("history")
    if not isinstance(history, list) or len(history) != epoch:
        return f"a history of {epoch} epochs expected"
    if not all(isinstance(row, dict) and row.get("epoch") == i for i, row in enumerate(history, 1)):
        return "its history rows are not epochs 1, 2, ..."
    return None


def load_weights(
    model: torch.nn.Module, path: Path, device: torch.device | str = "cpu", what: str | None = None
) -> None:
    """Load a safetensors file into ``model``. The file's tensor names and shapes are compared
    with the model's first (from its header, nothing else read): weights that do not fit are one
    line naming the tensors and both shapes, and the model is left as it was."""
    from safetensors import SafetensorError, safe_open

    what = what or f"weights {path}"
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            shapes = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except OSError as exc:
        raise ZooError(f"cannot load {what}: {exc.strerror or exc}") from exc
    except (SafetensorError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ZooError(f"cannot load {what}: not a readable safetensors file ({reason})") from exc
    state = model.state_dict()
    # Tensors that share memory (tied weights) are saved once: the others are not missing.
    saved = {state[k].data_ptr() for k in shapes if k in state}
    wanted = {
        k: tuple(v.shape) for k, v in state.items() if k in shapes or v.data_ptr() not in saved
    }
    problems = fit_problems(shapes, wanted)
    if problems:
        raise ZooError(f"{what} do not fit the model: {problems}")
    from safetensors.torch import load_model

    try:
        load_model(model, str(path), device=str(device))
    except (OSError, SafetensorError, RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ZooError(f"cannot load {what}: {reason}") from exc


def fit_problems(given: dict[str, tuple[int, ...]], wanted: dict[str, tuple[int, ...]]) -> str:
    """What differs between a file's tensors and a model's (names and shapes), as one phrase;
    empty when they fit. At most three of each kind of difference are named."""

    def some(items: list[str]) -> str:
        more = f" and {len(items) - 3} more" if len(items) > 3 else ""
        return ", ".join(items[:3]) + more

    shapes = [
        f"{k} is {list(given[k])} in the weights, {list(wanted[k])} in the model"
        for k in wanted
        if k in given and given[k] != wanted[k]
    ]
    missing = [k for k in wanted if k not in given]
    unexpected = [k for k in given if k not in wanted]
    parts = [some(shapes)] if shapes else []
    if missing:
        parts.append(f"missing from the weights: {some(missing)}")
    if unexpected:
        parts.append(f"not in the model: {some(unexpected)}")
    return "; ".join(parts)
