"""A run's provenance (env.json): what it needs to be repeated, the interpreter, torch, the
device and processor, zoo's commit and every plugin's version."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any


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
        "hardware": hardware(device),
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


def hardware(device: str) -> str:
    """The processor a run trains on, in words: the GPU's name on CUDA, else the CPU's model
    (``/proc/cpuinfo``'s, or what the platform says) and its logical cores."""
    import platform

    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
        return torch.cuda.get_device_name(index)
    name = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    name = " ".join((name or platform.processor() or platform.machine() or "CPU").split())
    return f"{name[:80]}, {os.cpu_count() or 1} cores"


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
