"""Trained models out of zoo: ONNX (through ``torch.onnx``) and PT2 (``torch.export``), files
that onnxruntime or plain torch load without zoo or its plugins installed.

The batch size stays free in both; the input is what the model takes: a batch of flattened rows
of ``input_shape`` (the tutorial's models reshape them themselves).
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ZooError
from ..files import atomic

FORMATS = {"onnx": ".onnx", "pt2": ".pt2"}
#: The optional dependencies of ONNX export: ``pip install 'torch-zoo[export]'``.
ONNX_PACKAGES = ("onnx", "onnxscript")


def export(
    model: Any, input_shape: Sequence[int], format: str, out: Path, device: str = "cpu"
) -> Path:
    """Write ``model`` (in eval mode, on ``device``) as ``format`` to ``out``, atomically."""
    if format not in FORMATS:
        raise ConfigError(f"export format '{format}': expected one of {', '.join(FORMATS)}")
    import torch

    # A seeded example: the file it leaves in the archive (sample_inputs) is the same every time.
    seeded = torch.Generator().manual_seed(0)
    example = torch.rand(2, math.prod(input_shape), generator=seeded).to(device)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    dynamic = ({0: batch},)
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder: name the file to write")
    with _quiet_torch():
        return _export(model, example, dynamic, format, out)


def _export(model: Any, example: Any, dynamic: Any, format: str, out: Path) -> Path:
    import torch

    try:
        if format == "onnx":
            missing = [name for name in ONNX_PACKAGES if not _importable(name)]
            if missing:
                raise ZooError(
                    f"ONNX export needs {' and '.join(missing)}: pip install 'torch-zoo[export]'"
                )
        program = torch.export.export(model, (example,), dynamic_shapes=dynamic)
        _forget_where(program)
        if format == "pt2":
            with atomic(out) as tmp, open(tmp, "wb") as f:
                torch.export.save(program, f)
            return out
        onnx_program = torch.onnx.export(
            program,
            (example,),
            dynamo=True,
            dynamic_shapes=dynamic,
            input_names=["input"],
            output_names=["logits"],
            verbose=False,
        )
        with atomic(out) as tmp:
            onnx_program.save(str(tmp))
    except OSError as exc:
        raise ZooError(f"cannot write {out}: {exc.strerror or exc}") from exc
    except ZooError:
        raise
    except Exception as exc:  # a model torch cannot trace: say which, in one line
        reason = " ".join(str(exc).split())[:300]
        raise ZooError(
            f"cannot export the model as {format}: {type(exc).__name__}: {reason}"
        ) from exc
    return out


def _forget_where(program: Any) -> None:
    """Drop the source lines torch.export records for every node: they name the files of the
    machine that exported it (its user's folders), which a shared file should not carry, and they
    made the same model's file a different size wherever zoo was installed."""
    for module in program.graph_module.modules():
        graph = getattr(module, "graph", None)
        for node in graph.nodes if graph is not None else ():
            node.meta.pop("stack_trace", None)


@contextlib.contextmanager
def _quiet_torch() -> Iterator[None]:
    """torch's exporters log and warn about things that are not the user's concern (torchvision
    not installed, deprecations inside torch): one line of ours is what the user sees."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
