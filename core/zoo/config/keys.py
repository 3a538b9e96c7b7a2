"""The keys of a run config: its sections (a registered name and options), its scalars with
their types, ranges and descriptions, and the checks every config passes (known keys, the right
types). Nothing here reads a file or imports torch."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..hints import did_you_mean

SECTIONS = ("dataset", "model", "optimizer")  # mappings with a registered `name` and its options


OPTIONAL_SECTIONS = ("scheduler", "loss")  # the same, or absent / null


LIST_SECTIONS = ("metrics", "callbacks", "augment")  # lists of names, or of mappings with a `name`


#: The registry each section's names are looked up in.
REGISTRY = {
    "dataset": "datasets",
    "model": "models",
    "optimizer": "optimizers",
    "scheduler": "schedulers",
    "loss": "losses",
    "metrics": "metrics",
    "callbacks": "callbacks",
    "augment": "transforms",
}


DEVICES = ("auto", "cpu", "cuda", "mps")  # and cuda:N


DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


PRECISIONS = ("bf16", "fp16")  # amp: true means bf16


# Scalar keys of a run: (expected type, description used in errors).
SCALARS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "description": (str, "one line of printable text (at most 500 characters)"),
    "epochs": (int, "a positive integer"),
    "batch_size": (int, "a positive integer"),
    "valid_batch_size": (int, "a positive integer"),
    "shuffle": (bool, "true or false"),
    "seed": (int, "an integer"),
    "device": (str, "auto, cpu, cuda, cuda:N or mps"),
    "threads": ((int, str), "auto or a positive integer"),
    "amp": ((bool, str), "false, true (bf16), bf16 or fp16"),
    "init": (str, "registered weights (e.g. cnn.mnist) or a run directory to start from"),
    "accumulate": (int, "a positive integer (batches whose gradients add up to one step)"),
    "compile": (bool, "true or false (torch.compile the model)"),
    "deterministic": (bool, "true or false (deterministic algorithms on CUDA: the same numbers)"),
    "cuda_graphs": ((bool, str), "false, true or auto (replay the training step as a CUDA graph)"),
    "monitor": (str, "a number of the metrics rows (val_loss, val_acc...): the best epoch's"),
    "mode": (str, "auto, min or max (which way monitor improves; auto: min for a loss)"),
}


KEYS = (*SECTIONS, *OPTIONAL_SECTIONS, *LIST_SECTIONS, *SCALARS)


#: The range of each integer key: far beyond any real run, and inside what Python, torch and the
#: disk can hold (a seed of 30 digits, a billion epochs are refused in one line, not mid-run).
LIMITS = {
    "epochs": (1, 1_000_000),
    "batch_size": (1, 1 << 24),
    "valid_batch_size": (1, 1 << 24),
    "accumulate": (1, 1 << 16),
    "seed": (-(1 << 63), (1 << 63) - 1),
}


def validate(config: Mapping[str, Any]) -> None:
    """Check a resolved run: known keys, the right types, a name in each section."""
    check_keys(config, "config")
    for section in SECTIONS:
        value = config.get(section)
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
            raise ConfigError(
                f"{section}: expected a mapping with a 'name', e.g. "
                f"{section}: {{name: ...}} (got {value!r})"
            )
    for section in OPTIONAL_SECTIONS:
        value = config.get(section)
        if value is not None and (
            not isinstance(value, Mapping) or not isinstance(value.get("name"), str)
        ):
            raise ConfigError(
                f"{section}: expected a mapping with a 'name', e.g. {section}: {{name: ...}}, "
                f"or nothing (got {value!r})"
            )
    for section in LIST_SECTIONS:
        items = config.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            raise ConfigError(f"{section}: expected a list, e.g. [{{name: ...}}] (got {items!r})")
        for i, item in enumerate(items):
            if not isinstance(item, (str, Mapping)) or (
                isinstance(item, Mapping) and not isinstance(item.get("name"), str)
            ):
                raise ConfigError(
                    f"{section}[{i}]: expected a name or a mapping with a 'name' (got {item!r})"
                )
    for key, (kind, expected) in SCALARS.items():
        if key not in config or (
            key in ("description", "valid_batch_size", "init") and config[key] is None
        ):
            if key in ("epochs", "batch_size"):
                raise ConfigError(f"{key}: missing; expected {expected}")
            continue
        value = config[key]
        bad = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if not bad and key in LIMITS:
            low, high = LIMITS[key]
            bad = isinstance(value, int) and not low <= value <= high
            if bad and value >= low:
                raise ConfigError(f"{key}: {value!r} is more than zoo takes (at most {high:,})")
        if not bad and key == "description":
            bad = not value.isprintable() or len(value) > 500
        if not bad and key == "device":
            bad = not DEVICE.match(value)
        if not bad and key == "amp":
            bad = isinstance(value, str) and value not in PRECISIONS  # as precision() reads it
        if not bad and key == "mode":
            bad = value not in ("auto", "min", "max")
        if not bad and key == "cuda_graphs":
            bad = isinstance(value, str) and value != "auto"
        if not bad and key == "threads":
            bad = value != "auto" and (isinstance(value, str) or not 1 <= value <= 1024)
        if bad:
            raise ConfigError(f"{key}: expected {expected}, got {value!r}")


def check_keys(run: Mapping[str, Any], where: str) -> None:
    for key in run:
        if key not in KEYS:
            raise ConfigError(f"{where}: {unknown_key(key, KEYS)}")


def precision(amp: bool | str | None) -> str | None:
    """The mixed precision ``amp`` asks for: ``None`` (full precision), ``bf16`` or ``fp16``."""
    if amp is None or amp is False:
        return None
    if amp is True:
        return "bf16"
    if amp not in PRECISIONS:
        raise ConfigError(f"amp: expected false, true (bf16), bf16 or fp16, got {amp!r}")
    return amp


def unknown_key(key: str, known: Iterable[str]) -> str:
    hint = did_you_mean(key, known, n=1)
    return f"unknown key '{key}'{hint} (known: {', '.join(known)})"


def expect_mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
