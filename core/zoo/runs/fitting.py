"""Whether what a checkpoint or a weights file saved fits the live objects it is loaded into: a
part's state against the same part built now (keys, types, shapes, dtypes, finite numbers), an
optimizer's state against its parameters, a file's tensors against a model's. A state that does
not fit is one line naming where, before anything trains; checkpoint I/O is ``checkpoints``'s."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import text
from ..errors import ZooError


@contextlib.contextmanager
def restoring(path: Path, part: str) -> Iterator[None]:
    """Restore one ``part`` of a training state (the optimizer's, a callback's...): whatever the
    part's own code raises on a value zoo did not write is one line naming it, before any epoch
    trains."""
    try:
        yield
    except ZooError:
        raise
    except Exception as exc:  # torch's, or a plugin's, complaint about a foreign value
        reason = " ".join(str(exc).split())[:200]
        raise ZooError(
            f"{path}: its {part} is not one zoo wrote for this run ({type(exc).__name__}: "
            f"{reason}); nothing was trained or changed"
        ) from exc


def same_shape(fresh: Any, saved: Any, where: str = "") -> str | None:
    """Where ``saved`` (a part's state from a checkpoint) differs in structure from ``fresh`` (the
    same part's state as zoo builds it now): other keys, other types, tensors of another shape
    or dtype, numbers that are not finite. ``None`` when they match."""
    import torch

    here = where or "its state"
    if isinstance(fresh, dict):
        if not isinstance(saved, dict) or set(saved) != set(fresh):
            return f"{here} has other keys than zoo writes"
        for key in fresh:
            problem = same_shape(fresh[key], saved[key], f"{where}.{key}" if where else str(key))
            if problem:
                return problem
        return None
    if isinstance(fresh, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or (fresh and len(saved) != len(fresh)):
            return f"{here} is not a list of {len(fresh)}"
        if not fresh:
            plain = (str, int, float, bool, type(None))
            ok = all(isinstance(v, plain) and _finite_or_text(v) for v in saved)
            return None if ok and len(saved) <= 1000 else f"{here} holds values zoo never writes"
        for i, (a, b) in enumerate(zip(fresh, saved, strict=True)):
            problem = same_shape(a, b, f"{here}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(fresh, torch.Tensor):
        if not isinstance(saved, torch.Tensor) or saved.shape != fresh.shape:
            return f"{here} is not a tensor of shape {list(fresh.shape)}"
        if saved.dtype != fresh.dtype:
            return f"{here} is {saved.dtype}, not {fresh.dtype}"
        return None
    if isinstance(fresh, bool) or isinstance(saved, bool):
        return None if type(saved) is type(fresh) or fresh is None else f"{here} is not {fresh!r}"
    if isinstance(fresh, (int, float)) or fresh is None:
        if fresh is None and (saved is None or isinstance(saved, str)):
            return None
        if not isinstance(saved, (int, float)) or not _finite_or_text(saved):
            return f"{here} is not a finite number"
        return None
    if isinstance(fresh, str):
        return None if isinstance(saved, str) and len(saved) <= 1000 else f"{here} is not text"
    return None if type(saved) is type(fresh) else f"{here} is not a {type(fresh).__name__}"


def _finite_or_text(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value) or math.isinf(value)  # inf is a plateau's first "best"
    return not isinstance(value, int) or abs(value) < 1 << 63


def _plain(value: Any) -> Any:
    """A hyper-parameter held as a one-value tensor (a learning rate a CUDA graph reads from the
    device) compared as the number it is."""
    import torch

    if isinstance(value, torch.Tensor) and value.dim() == 0 and value.is_floating_point():
        return float(value)
    return value


def optimizer_problem(optimizer: Any, saved: dict[str, Any]) -> str | None:
    """Where a saved optimizer state does not fit ``optimizer`` (its groups, its parameters'
    shapes, finite hyper-parameters): torch checks only the counts, and a wrong buffer would
    fail in the middle of an epoch."""
    import torch

    fresh = optimizer.state_dict()
    groups, state = saved.get("param_groups"), saved.get("state")
    if set(saved) != set(fresh) or not isinstance(groups, list) or not isinstance(state, dict):
        return "has other keys than an optimizer state"
    if len(groups) != len(fresh["param_groups"]):
        return f"has {len(groups)} parameter groups, the optimizer {len(fresh['param_groups'])}"
    shapes = {}
    for i, (mine, theirs) in enumerate(zip(fresh["param_groups"], groups, strict=True)):
        if not isinstance(theirs, dict) or theirs.get("params") != mine["params"]:
            return f"param_groups[{i}] holds other parameters"
        problem = same_shape(
            {k: _plain(v) for k, v in mine.items() if k != "params"},
            {k: _plain(v) for k, v in theirs.items() if k != "params"},
            f"param_groups[{i}]",
        )
        if problem:
            return problem
        lr = _plain(theirs.get("lr"))
        if not (isinstance(lr, (int, float)) and lr >= 0):
            return f"param_groups[{i}].lr is not a learning rate"
        params = optimizer.param_groups[i]["params"]
        shapes |= dict(zip(mine["params"], (p.shape for p in params), strict=True))
    for key, values in state.items():
        if key not in shapes or not isinstance(values, dict):
            return f"state[{text.shown(key)}] belongs to no parameter"
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                if value.dim() and value.shape != shapes[key]:
                    return (
                        f"state[{key}].{name} is {list(value.shape)}, the parameter is "
                        f"{list(shapes[key])}"
                    )
                if value.is_complex() or not (value.is_floating_point() or value.dim() == 0):
                    return f"state[{key}].{name} is {value.dtype}"
            elif not isinstance(value, (int, float)) or isinstance(value, bool):
                return f"state[{key}].{name} is not a tensor or a number"
    return None


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
