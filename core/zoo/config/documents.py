"""Config files: which zoo.yaml is in use (``--config FILE``, ``$ZOO_CONFIG``, ``./zoo.yaml`` or
a parent folder's, then the one shipped with zoo), reading and checking it, and saying where each
setting of a resolved run came from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..files import check_name
from .keys import check_keys, expect_mapping
from .overrides import Overrides, parse_overrides
from .yaml_io import parse_yaml

FILENAME = "zoo.yaml"


def shipped_config() -> Path:
    """The zoo.yaml that ships with zoo: inside an installed wheel, or at the checkout's root."""
    package = Path(__file__).resolve().parents[1]  # zoo/, beside zoo/config/
    for candidate in (package / FILENAME, package.parents[1] / FILENAME):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no {FILENAME} found: pass --config FILE or set ZOO_CONFIG")


def find_config(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """The config file to use (see the module docstring for the order)."""
    for given, source in ((explicit, "--config"), (os.environ.get("ZOO_CONFIG"), "ZOO_CONFIG")):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise ConfigError(f"config file {path} ({source}) does not exist")
            return path
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / FILENAME).is_file():
            return folder / FILENAME
    return shipped_config()


def load(path: Path) -> dict[str, Any]:
    """Read and check a config file: ``{"defaults": {...}, "runs": {name: {...}}}``. Another file
    than zoo's own adds to it: zoo's runs and defaults stay, unless the file redefines them; where
    each came from is in ``sources``."""
    try:
        doc = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    doc = {} if doc is None else doc
    expect_mapping(doc, str(path))
    for key in doc:
        if key not in ("defaults", "runs", "models"):
            raise ConfigError(
                f"{path}: unknown top-level key '{key}' (expected defaults, runs, models)"
            )
    shipped = shipped_config()
    own = load(shipped) if path.resolve() != shipped.resolve() else None
    defaults = doc.get("defaults")
    if defaults is None:  # a file of models or runs only: zoo's own defaults apply
        defaults = own["defaults"] if own is not None else {}
    runs = doc.get("runs") or {}
    expect_mapping(defaults, f"{path}: defaults")
    expect_mapping(runs, f"{path}: runs")
    for name, run in runs.items():
        expect_mapping(run or {}, f"{path}: runs.{name}")
        check_keys(run or {}, f"runs.{name}")
    check_keys(defaults, "defaults")
    models = doc.get("models") or {}
    expect_mapping(models, f"{path}: models")
    for name, model in models.items():
        check_name(name, f"{path}: the model name")
        _check_model(model, f"{path}: models.{name}")
    label = source_label(path)
    from_own = own is not None and "defaults" not in doc
    sources = {"defaults": own["sources"]["defaults"] if from_own else label}
    sources |= {f"runs.{name}": label for name in runs}
    if own is not None:  # zoo's own runs, where this file does not redefine them
        sources = {f"runs.{n}": own["sources"][f"runs.{n}"] for n in own["runs"]} | sources
        runs = {**own["runs"], **runs}
    return {
        "path": path,
        "defaults": defaults,
        "runs": {k: v or {} for k, v in runs.items()},
        "models": models,
        "sources": sources,
    }


def source_label(path: Path) -> str:
    """How ``zoo show`` names a config file: zoo's own, or the path as the user would write it."""
    if path.resolve() == shipped_config().resolve():
        return "zoo's own zoo.yaml"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def origins(
    doc: Mapping[str, Any],
    resolved: Mapping[str, Any],
    overrides: Overrides | None = (),
    options: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Where each setting of ``resolved`` came from: ``{"optimizer.lr": "--set", ...}``."""
    name = resolved["name"]
    run = doc["runs"].get(name, {"model": {"name": name}})
    run_source = doc["sources"].get(f"runs.{name}", "the model's name")
    set_keys = {".".join(keys) for keys, _ in parse_overrides(overrides)}
    given = {k for k, v in (options or {}).items() if v is not None}
    found = {}
    for key, value in resolved.items():
        leaves = value.items() if isinstance(value, Mapping) else [(None, value)]
        for sub, _ in leaves:
            dotted = key if sub is None else f"{key}.{sub}"
            if key in given:
                found[dotted] = f"--{key}"
            elif dotted in set_keys or key in set_keys:
                found[dotted] = "--set"
            elif key != "name" and _has(run, key, sub):
                found[dotted] = f"runs.{name} in {run_source}"
            elif key != "name":
                found[dotted] = f"defaults in {doc['sources']['defaults']}"
    return found


def _has(run: Mapping[str, Any], key: str, sub: str | None) -> bool:
    if key not in run:
        return False
    return sub is None or (isinstance(run[key], Mapping) and sub in run[key])


def _check_model(model: Any, where: str) -> None:
    """A declarative model: ``{description?, sequential: [{layer: NAME, ...options}, ...]}``."""
    expect_mapping(model, where)
    unknown = set(model) - {"description", "sequential"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key '{sorted(unknown)[0]}' (expected sequential, description)"
        )
    layers = model.get("sequential")
    if not isinstance(layers, list) or not layers:
        raise ConfigError(f"{where}: expected 'sequential:' with a list of layers")
    for index, item in enumerate(layers):
        if not isinstance(item, Mapping) or not isinstance(item.get("layer"), str):
            raise ConfigError(
                f"{where}, layer {index}: expected a mapping like {{layer: relu}}, got {item!r}"
            )
