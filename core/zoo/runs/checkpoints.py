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
import shutil
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
        epoch = int(folder.name.split("-")[1])
        too_old = keep_last is not None and epoch <= latest.epoch - max(keep_last, 1)
        if epoch > latest.epoch or too_old:
            shutil.rmtree(folder, ignore_errors=True)


def last(run_dir: Path) -> Checkpoint | None:
    """The checkpoint the marker names, or ``None`` before the first one."""
    try:
        marker = json.loads((run_dir / MARKER).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ZooError(f"{run_dir / MARKER} is unreadable: {exc}") from exc
    return Checkpoint(
        int(marker["epoch"]), run_dir / marker["folder"], int(marker.get("world_size", 1))
    )


def load_state(point: Checkpoint) -> dict[str, Any]:
    """The training state, read with ``weights_only=True``: tensors and plain values only."""
    import torch

    try:
        state = torch.load(point.state, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise ZooError(f"cannot read {point.state}: {exc}") from exc
    if state.get("format") != FORMAT:
        raise ZooError(f"{point.state} has format {state.get('format')}, expected {FORMAT}")
    return state


def load_weights(model: torch.nn.Module, path: Path, device: torch.device | str = "cpu") -> None:
    from safetensors.torch import load_model

    try:
        load_model(model, str(path), device=str(device))
    except (OSError, RuntimeError) as exc:
        raise ZooError(f"cannot load weights {path}: {exc}") from exc
