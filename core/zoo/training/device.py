"""Where and how a run computes: the device (``auto``: cuda, then mps, then cpu), CPU threads, and
mixed precision (bf16, or fp16 with a loss-scaling ``GradScaler``)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch

from ..config import precision
from ..errors import ConfigError

AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}

# cuBLAS reads its workspace setting once, when CUDA's first matrix product creates its handle:
# set here, where training is imported and before any of it runs, so that deterministic
# algorithms can be asked for on CUDA (torch refuses them without it). It changes nothing else.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu (``$ZOO_DEVICE``, when set, is what ``auto``
    means: ``ZOO_DEVICE=cpu`` keeps zoo off the GPU); an unavailable device is a clear error."""
    if name == "auto" and os.environ.get("ZOO_DEVICE", "auto") != "auto":
        name = os.environ["ZOO_DEVICE"]
        if name not in ("cpu", "cuda", "mps") and not name.startswith("cuda:"):
            raise ConfigError(f"ZOO_DEVICE={name}: expected auto, cpu, cuda, cuda:N or mps")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' is not available here: use --device cpu (or auto)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' is not available here: use --device cpu (or auto)")
    return device


def make_deterministic(device: torch.device, deterministic: bool) -> None:
    """On CUDA, ``deterministic`` asks torch for deterministic algorithms (cuDNN's included, and
    no benchmarking of them): the same seed, device and versions give the same numbers and the
    same weights. (On the CPU zoo's models are deterministic as they are.) ``False`` gives
    torch the choice back, for speed, and the run says so."""
    if device.type != "cuda":
        return
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False


def weights_budget(device: torch.device) -> int:
    """The most bytes a model's weights may take to be trained on ``device``: a quarter of its
    memory (training holds the weights, their gradients and an optimizer's one or two buffers
    each). 0 where the memory cannot be read (then nothing is refused)."""
    try:
        if device.type == "cuda":
            total = torch.cuda.get_device_properties(device).total_memory
        else:
            import os

            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError, RuntimeError):
        return 0
    return total // 4


def set_threads(threads: int | str, device: torch.device) -> int:
    """CPU threads for training: ``auto`` keeps torch's choice, a number sets it (on a small
    machine, 1 thread can beat 2 on these small batches: benchmarks/speed.py measures both)."""
    if threads != "auto":
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def amp_dtype(device: torch.device, amp: bool | str | None) -> torch.dtype | None:
    """The autocast dtype of ``amp`` on ``device``: false -> none (full precision), true or
    ``bf16`` -> bfloat16, ``fp16`` -> float16; a device that cannot is a clear error."""
    name = precision(amp)
    if name is None:
        return None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"amp: not supported on {device.type}; run without --amp")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("amp: this GPU has no bf16; use --amp fp16 (or run without --amp)")
    return AMP[name]


def autocast(device: torch.device, dtype: torch.dtype | None, cache: bool = True) -> Any:
    """Mixed precision in ``dtype`` (weights stay float32); ``None``: full precision. Inside a
    CUDA graph's capture autocast must not cache its casts (``cache=False``)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype, cache_enabled=cache)


def grad_scaler(device: torch.device, amp: bool | str | None) -> torch.amp.GradScaler | None:
    """fp16 training needs its loss scaled (small gradients underflow in float16); bf16 has
    float32's range and needs none."""
    if amp_dtype(device, amp) is not torch.float16:
        return None
    return torch.amp.GradScaler(device.type)
