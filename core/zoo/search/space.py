"""A search space written plainly, a ``KEY=DISTRIBUTION`` text per key, as Optuna's
distributions:

    optimizer.lr=loguniform(1e-3,1)     a float, sampled on a log scale
    optimizer.momentum=uniform(0.5,0.99)
    model.width=int(8,64)               an integer (int(8,64,log) on a log scale)
    optimizer.name=choice(sgd,adam)     one of the values (each read as YAML: 0.1, true, a name)

Any ``--set`` key may be searched; a text that is not one of these is one line."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import yaml

from ..errors import ConfigError

FORM = re.compile(r"^\s*(loguniform|uniform|int|choice)\s*\((.*)\)\s*$", re.DOTALL)
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
MAX_CHOICES = 1000
EXAMPLES = "optimizer.lr=loguniform(1e-3,1), model.width=int(8,64), optimizer.name=choice(sgd,adam)"


def parse(texts: Sequence[str]) -> dict[str, Any]:
    """``{key: optuna distribution}`` of ``KEY=DISTRIBUTION`` texts, each checked."""
    import optuna.distributions as d

    space: dict[str, Any] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not KEY.match(key):
            raise ConfigError(f"--space {text!r}: expected KEY=DISTRIBUTION, e.g. {EXAMPLES}")
        if key in space:
            raise ConfigError(f"--space {key}: given twice")
        found = FORM.match(value)
        if not found:
            raise ConfigError(
                f"--space {text!r}: {value.strip()!r} is not a distribution zoo knows "
                f"(loguniform(a,b), uniform(a,b), int(a,b), int(a,b,log), choice(x,y,...)), e.g. "
                f"{EXAMPLES}"
            )
        kind, args = found.group(1), [a.strip() for a in found.group(2).split(",")]
        where = f"--space {key}={kind}(...)"
        if kind == "choice":
            values = [_scalar(a, where) for a in args]
            if not 1 <= len(values) <= MAX_CHOICES or any(a == "" for a in args):
                raise ConfigError(f"{where}: expected 1 to {MAX_CHOICES} values, none empty")
            if len({repr(v) for v in values}) != len(values):
                raise ConfigError(f"{where}: a value is given twice")
            space[key] = d.CategoricalDistribution(values)
            continue
        log = kind == "loguniform"
        if kind == "int" and len(args) == 3 and args[2] == "log":
            args, log = args[:2], True
        if len(args) != 2:
            raise ConfigError(f"{where}: expected two bounds, low and high")
        low, high = (_number(a, where, integer=kind == "int") for a in args)
        if not low < high:
            raise ConfigError(f"{where}: the low bound must be below the high one")
        if log and low <= 0:
            raise ConfigError(f"{where}: a log scale needs bounds above 0")
        if kind == "int":
            space[key] = d.IntDistribution(int(low), int(high), log=log)
        else:
            space[key] = d.FloatDistribution(low, high, log=log)
    if not space:
        raise ConfigError(f"nothing to search: give --space KEY=DISTRIBUTION, e.g. {EXAMPLES}")
    return space


def _scalar(text: str, where: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{where}: {text!r} is not a value") from None
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise ConfigError(f"{where}: {text!r} is not one value (a number, a name, true, false)")
    return value


def _number(text: str, where: str, *, integer: bool) -> float:
    try:
        value = float(text) if not integer else int(text)
    except ValueError:
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{where}: {text!r} is not {what}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {text!r} is not a finite number")
    return value


def describe(space: dict[str, Any]) -> dict[str, str]:
    """Each key's distribution as the command line writes it (the study records it)."""
    import optuna.distributions as d

    out = {}
    for key, dist in space.items():
        if isinstance(dist, d.CategoricalDistribution):
            out[key] = "choice(" + ",".join(str(c) for c in dist.choices) + ")"
        elif isinstance(dist, d.IntDistribution):
            out[key] = f"int({dist.low},{dist.high}{',log' if dist.log else ''})"
        else:
            out[key] = f"{'loguniform' if dist.log else 'uniform'}({dist.low:g},{dist.high:g})"
    return out
