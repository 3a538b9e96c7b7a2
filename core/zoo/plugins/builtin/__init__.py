"""Plugins that ship with the core and register through the same hooks as everyone else's."""

from __future__ import annotations


def auto_mode(monitor: str, mode: str = "auto") -> str:
    """Which way ``monitor`` improves: ``auto`` is lower for a loss, higher for anything else
    (accuracies); ``min`` and ``max`` say it outright."""
    if mode == "auto":
        return "min" if "loss" in monitor else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be auto, min or max, not {mode!r}")
    return mode
