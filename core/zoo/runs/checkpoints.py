"""Checkpoints that survive a kill: after every epoch, the weights as safetensors and the training
state (optimizer, epoch, history, every RNG: what the trainer hands over) in a file that
``torch.load(weights_only=True)`` reads.

    run_dir/checkpoints/epoch-0003/model.safetensors
    run_dir/checkpoints/epoch-0003/state.pt
    run_dir/checkpoint.json          the marker: names the last complete checkpoint, written last
    run_dir/best.safetensors         the weights of the best epoch (by the run's monitor)

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

from .. import files, text
from ..errors import ZooError
from . import fitting

if TYPE_CHECKING:
    import torch

MARKER = "checkpoint.json"
FOLDER_NAME = "checkpoints"
BEST = "best.safetensors"
FORMAT = 1
FOLDER = re.compile(r"^epoch-(\d{4,9})$")
MAX_MARKER = 16384  # the marker's few fields and a stopped run's reason (at most 1,000 characters)
MAX_STATE = 1 << 30  # a state.pt larger than this is not one zoo wrote for these models


@dataclass
class Checkpoint:
    """A complete checkpoint on disk."""

    epoch: int
    folder: Path
    world_size: int = 1  # the processes (ranks) that trained it
    #: why the run stopped there (an early stop, ``stop_at``), ``None`` when it did not; a
    #: marker written before zoo recorded it there does not say (``marked`` False): its state does
    stopped: str | None = None
    marked: bool = True

    @property
    def weights(self) -> Path:
        return files.inside(self.folder, "model.safetensors", "a checkpoint's weights")

    @property
    def state(self) -> Path:
        return files.inside(self.folder, "state.pt", "a checkpoint's training state")


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

    folder = checkpoints_dir(run_dir) / f"epoch-{epoch:04d}"
    try:
        if folder.is_symlink():  # not zoo's: never followed, never deleted
            raise ZooError(f"{folder} is a link, not a checkpoint zoo wrote: refused")
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
            "stopped": state.get("stopped"),  # read by a run's status without loading the state
        }
        files.write_atomic(run_dir / MARKER, json.dumps(marker).encode())
        files.fsync_dir(run_dir)
    except ZooError:
        raise
    except (OSError, RuntimeError, SafetensorError) as exc:  # a full disk, a read-only one...
        raise ZooError(
            f"could not save the checkpoint of epoch {epoch} in {folder}: "
            f"{getattr(exc, 'strerror', None) or exc}; the previous checkpoint is intact"
        ) from exc
    prune(run_dir, keep_last)


def checkpoints_dir(run_dir: Path) -> Path:
    """``RUN_DIR/checkpoints``, refused when it is a link or leads out of the run directory: zoo
    writes and deletes checkpoints only inside the run it trains."""
    folder = Path(run_dir) / FOLDER_NAME
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ZooError(f"{folder} is not a folder zoo made (a link?): refused, nothing deleted")
    files.inside(Path(run_dir), FOLDER_NAME, "the checkpoints folder")
    return folder


def prune(run_dir: Path, keep_last: int | None) -> None:
    """Keep the newest ``keep_last`` complete checkpoints (``None``: all of them); remove older
    ones and any newer than the marker (half-written by a run that was killed)."""
    latest = last(run_dir)
    if latest is None:
        return
    for folder in sorted(checkpoints_dir(run_dir).glob("epoch-*")):
        match = FOLDER.match(folder.name)
        if match is None or folder.is_symlink() or not folder.is_dir():
            continue  # not a checkpoint zoo wrote: never zoo's to delete
        epoch = int(match.group(1))
        too_old = keep_last is not None and epoch <= latest.epoch - max(keep_last, 1)
        if epoch > latest.epoch or too_old:
            shutil.rmtree(folder, ignore_errors=True)


def clear_unfinished(run_dir: Path) -> None:
    """Before a run restarts from epoch 1: the checkpoint folders a killed first save began."""
    for folder in checkpoints_dir(Path(run_dir)).glob("epoch-*"):
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
        marker = files.parse_json(files.read_bounded(path, MAX_MARKER))
    except FileNotFoundError:
        return None
    except ZooError as exc:
        raise ZooError(f"{path} is unreadable: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise ZooError(f"{path} is unreadable: {getattr(exc, 'strerror', None) or exc}") from exc
    epoch = marker.get("epoch") if isinstance(marker, dict) else None
    world = marker.get("world_size", 1) if isinstance(marker, dict) else None
    if not _count(epoch) or not _count(world) or epoch > 10**9:
        raise ZooError(f"{path} is not a marker zoo wrote: expected a positive epoch")
    folder = checkpoints_dir(Path(run_dir)) / f"epoch-{epoch:04d}"
    if marker.get("folder") != str(folder.relative_to(run_dir)):
        raise ZooError(
            f"{path} names the folder {marker.get('folder')!r}: a checkpoint of this run is "
            f"checkpoints/epoch-{epoch:04d}, inside it"
        )
    if folder.is_symlink() or not folder.resolve().is_relative_to(Path(run_dir).resolve()):
        raise ZooError(f"{folder} leads outside its run directory: not a checkpoint zoo wrote")
    stopped = marker.get("stopped")
    if stopped is not None and not _reason(stopped):
        raise ZooError(f"{path} is not a marker zoo wrote: 'stopped' is not why a run stopped")
    return Checkpoint(epoch, folder, world, stopped, "stopped" in marker)


def _reason(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 1000


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def load_state(point: Checkpoint) -> dict[str, Any]:
    """The training state, read with ``weights_only=True`` (tensors and plain values only, no
    code) and checked: anything else is refused with one line."""
    import torch

    try:
        if files.regular(point.state).st_size > MAX_STATE:
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
    from .metrics import _is_metrics_row

    if not isinstance(state, dict):
        return "expected a mapping"
    if state.get("format") != FORMAT:
        return f"format {text.shown(state.get('format'))}, expected {FORMAT}"
    if state.get("epoch") != epoch:
        return f"epoch {text.shown(state.get('epoch'))}, but its marker says {epoch}"
    if not isinstance(state.get("optimizer"), dict) or not isinstance(state.get("rng"), dict):
        return "no optimizer or random state"
    history = state.get("history")
    if not isinstance(history, list) or len(history) != epoch:
        return f"a history of {epoch} epochs expected"
    if not all(isinstance(row, dict) and row.get("epoch") == i for i, row in enumerate(history, 1)):
        return "its history rows are not epochs 1, 2, ..."
    for row in history:
        if not _is_metrics_row(row) or not all(isinstance(k, str) for k in row):
            return f"history row {row.get('epoch')} is not a metrics row zoo wrote"
    parts = (("scheduler", dict), ("scaler", dict), ("callbacks", list), ("augment", dict))
    for key, kind in parts:
        if state.get(key) is not None and not isinstance(state[key], kind):
            return f"'{key}' is not a {kind.__name__}"
    stopped = state.get("stopped")
    if stopped is not None and not _reason(stopped):
        return "'stopped' is not the reason a run stopped"
    return None


def file_header(path: Path, what: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each tensor of a safetensors file: its shape and dtype (``F32``...), from the header
    alone; a file that is not one (or not a regular file) is one line."""
    from safetensors import SafetensorError, safe_open

    try:
        files.regular(Path(path), what)
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {
                name: (tuple(f.get_slice(name).get_shape()), f.get_slice(name).get_dtype())
                for name in f.keys()
            }
    except ZooError as exc:
        raise ZooError(f"cannot load {what}: {exc}") from exc
    except OSError as exc:
        raise ZooError(f"cannot load {what}: {exc.strerror or exc}") from exc
    except (SafetensorError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ZooError(f"cannot load {what}: not a readable safetensors file ({reason})") from exc


def file_shapes(path: Path, what: str) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape in a safetensors file, from its header."""
    return {name: shape for name, (shape, _) in file_header(path, what).items()}


#: safetensors' dtype names by kind: a tensor is loaded only into one of the same kind (a float
#: parameter from floats, never silently cast from integers, booleans or complex numbers).
DTYPE_KINDS = {
    "float": ("F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"),
    "int": ("I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64"),
    "bool": ("BOOL",),
}


def _kind(dtype: torch.dtype) -> str:
    import torch

    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "float"
    return "bool" if dtype == torch.bool else "int"


def load_matching(
    model: torch.nn.Module, path: Path, device: torch.device | str = "cpu", what: str | None = None
) -> tuple[list[str], list[str]]:
    """Start ``model`` from the tensors of a safetensors file that have its names and shapes
    (fine-tuning: weights trained on other data, with another number of classes or channels);
    the others keep their fresh values. Returns the tensors adapted (a first convolution's
    filters from grey to RGB or back) and those started afresh, each as ``name [file shape] ->
    [model shape]`` (or ``name (not in the weights)``). Refused in one line, the model left as
    it was, when the tensors that fit hold less than half the model's values (nothing worth
    starting from), a fitting tensor's dtype is of another kind, or its values are not numbers."""
    what = what or f"weights {path}"
    header = file_header(path, what)
    shapes = {name: shape for name, (shape, _) in header.items()}
    state = model.state_dict()
    fits = {k for k, shape in shapes.items() if k in state and tuple(state[k].shape) == shape}
    # a first convolution from grey to colour pictures or back (timm's adapt_input_conv): the
    # filters spread over the three channels, or summed into one
    spread = {
        k
        for k, shape in shapes.items()
        if k in state and k not in fits and _channels_only(shape, tuple(state[k].shape))
    }
    fits |= spread
    loaded = {state[k].data_ptr() for k in fits}
    fresh = [k for k, v in state.items() if k not in fits and v.data_ptr() not in loaded]
    total = sum(v.numel() for v in state.values() if v.is_floating_point())
    held = sum(state[k].numel() for k in fits if state[k].is_floating_point())
    if not fits or held * 2 < total:
        wanted = {k: tuple(v.shape) for k, v in state.items() if k in shapes or k in fresh}
        raise ZooError(
            f"{what} do not fit the model: the tensors of the same names and shapes hold "
            f"{held:,} of its {total:,} values, too few to start from "
            f"({fitting.fit_problems(shapes, wanted)})"
        )
    _check_kinds({k: header[k] for k in fits}, state, what)
    tensors = {k: v for k, v in _read(path, device, what).items() if k in fits}
    for k in spread:
        given = tensors[k]
        tensors[k] = (
            given.repeat(1, 3, *([1] * (given.dim() - 2))) / 3
            if given.shape[1] == 1
            else given.sum(dim=1, keepdim=True)
        )
    try:
        model.load_state_dict(tensors, strict=False)
    except (RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ZooError(f"cannot load {what}: {reason}") from exc
    adapted = [
        f"{k} {list(shapes[k])} -> {list(state[k].shape)} (its filters "
        f"{'spread over RGB' if shapes[k][1] == 1 else 'summed to grey'})"
        for k in sorted(spread)
    ]
    return adapted, [
        f"{k} {list(shapes[k])} -> {list(state[k].shape)}"
        if k in shapes
        else f"{k} (not in the weights)"
        for k in fresh
    ]


def _channels_only(given: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    """Whether a convolution's weights differ only in input channels, grey against RGB."""
    return (
        len(given) in (3, 4, 5)
        and len(given) == len(wanted)
        and {given[1], wanted[1]} == {1, 3}
        and given[:1] + given[2:] == wanted[:1] + wanted[2:]
    )


def _check_kinds(header: dict[str, Any], state: dict[str, Any], what: str) -> None:
    for name, (_, dtype) in header.items():
        kind = _kind(state[name].dtype) if name in state else None
        if kind is not None and dtype not in DTYPE_KINDS.get(kind, ()):
            raise ZooError(
                f"{what} do not fit the model: {name} is {dtype} in the weights, "
                f"{str(state[name].dtype).removeprefix('torch.')} in the model (not cast)"
            )


def _read(path: Path, device: torch.device | str, what: str) -> dict[str, Any]:
    """A safetensors file's tensors on ``device``, refused when any holds NaN or infinities."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device=str(device))
    except (OSError, SafetensorError, RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ZooError(f"cannot load {what}: {reason}") from exc
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise ZooError(
                f"{what} hold values that are not numbers (NaN or infinite) in {name}: "
                "broken weights, not loaded"
            )
    return tensors


def load_weights(
    model: torch.nn.Module, path: Path, device: torch.device | str = "cpu", what: str | None = None
) -> None:
    """Load a safetensors file into ``model``. The file's tensor names, shapes and dtypes are
    compared with the model's first (from its header, nothing else read): weights that do not
    fit are one line naming the tensors and both shapes, and the model is left as it was. Values
    that are not numbers (NaN, infinite) are refused too: such weights answer nothing. The file
    is read onto ``device``, then copied into the model's tensors."""
    what = what or f"weights {path}"
    header = file_header(path, what)
    shapes = {name: shape for name, (shape, _) in header.items()}
    state = model.state_dict()
    # Tensors that share memory (tied weights) are saved once: the others are not missing.
    saved = {state[k].data_ptr() for k in shapes if k in state}
    wanted = {
        k: tuple(v.shape) for k, v in state.items() if k in shapes or v.data_ptr() not in saved
    }
    problems = fitting.fit_problems(shapes, wanted)
    if problems:
        raise ZooError(f"{what} do not fit the model: {problems}")
    _check_kinds(header, state, what)
    tensors = _read(path, device, what)
    try:  # names were checked above; tied tensors are saved once, so not strict
        model.load_state_dict(tensors, strict=False)  # copied onto the model's own device
    except (RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ZooError(f"cannot load {what}: {reason}") from exc
