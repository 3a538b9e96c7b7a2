"""``--set KEY=VALUE`` overrides: parsed (the value as YAML), checked against the keys a run has,
and applied to a config's mapping; merging a run of zoo.yaml over its defaults."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ..errors import ConfigError
from .keys import KEYS, LIST_SECTIONS, SCALARS, unknown_key
from .yaml_io import parse_yaml

#: ``--set`` overrides: ``"KEY=VALUE"`` strings (the value parsed as YAML), or, from Python, a
#: mapping of the same dotted keys to values taken as they are.
Overrides = Mapping[str, Any] | Iterable[str]


def parse_overrides(overrides: Overrides | None) -> list[tuple[list[str], Any]]:
    """Each override as ``(["optimizer", "lr"], 0.1)``, its key checked, in the order given."""
    if isinstance(overrides, str):
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        return [(_split_key(str(key), f"overrides[{key!r}]"), v) for key, v in overrides.items()]
    return [parse_override(text) for text in overrides or ()]


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optimizer.lr=0.1"`` -> ``(["optimizer", "lr"], 0.1)``; the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise ConfigError(f"--set '{text}': expected KEY=VALUE, e.g. --set optimizer.lr=0.1")
    keys = _split_key(key.strip(), f"--set '{text}'")
    try:
        value = parse_yaml(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set '{text}': the value is not valid YAML") from exc
    return keys, value


def _split_key(key: str, shown: str) -> list[str]:
    keys = key.split(".")
    if not all(keys):
        raise ConfigError(f"{shown}: expected KEY=VALUE, e.g. --set optimizer.lr=0.1")
    if keys[0] not in KEYS:
        raise ConfigError(f"{shown}: {unknown_key(keys[0], KEYS)}")
    if keys[0] in SCALARS and len(keys) > 1:
        raise ConfigError(f"{shown}: '{keys[0]}' has no sub-keys")
    if keys[0] in LIST_SECTIONS and len(keys) > 1:
        raise ConfigError(
            f"{shown}: '{keys[0]}' is a list: set it whole, e.g. "
            f"--set '{keys[0]}=[{{name: ..., option: ...}}]'"
        )
    return keys


def check_data_overrides(overrides: Overrides | None, command: str, when: str, rest: str) -> bool:
    """For commands that keep a recorded config (``zoo resume``, ``zoo reproduce``): the
    overrides may only say where the data is (``dataset.*`` but its name). Whether there are
    any."""
    given = parse_overrides(overrides)
    for keys, _ in given:
        if keys[0] != "dataset" or keys[1:] in ([], ["name"]):
            raise ConfigError(
                f"{command} --set takes where the data is {when} (dataset.path, dataset.url...), "
                f"not {'.'.join(keys)}: {rest}"
            )
    return bool(given)


def apply_overrides(config: dict[str, Any], overrides: Overrides | None) -> None:
    """Set each override's dotted key in ``config``, creating mappings on the way."""
    for keys, value in parse_overrides(overrides):
        node = config
        for i, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                parent = ".".join(keys[: i + 1])
                raise ConfigError(f"--set {'.'.join(keys)}: '{parent}' is not a mapping")
            node = child
        node[keys[-1]] = value


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``; a section naming a different ``name`` replaces the base one."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            same = "name" not in value or value.get("name") == old.get("name")
            out[key] = merge(old, value) if same else copy.deepcopy(dict(value))
        else:
            out[key] = copy.deepcopy(value)
    return out
