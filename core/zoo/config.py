"""zoo.yaml and ``--set`` overrides -> one validated run config (a plain dict).

Where the config comes from, first found wins: ``--config FILE``, ``$ZOO_CONFIG``, ``./zoo.yaml``
or a parent folder's, then the ``zoo.yaml`` shipped with zoo itself.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, UnknownNameError
from .files import check_name
from .hints import did_you_mean
from .plugins.registry import Registry

FILENAME = "zoo.yaml"
SECTIONS = ("dataset", "model", "optimizer")  # mappings with a registered `name` and its options
OPTIONAL_SECTIONS = ("scheduler", "loss")  # the same, or absent / null
LIST_SECTIONS = ("metrics", "callbacks")  # lists of names, or of mappings with a `name`
#: The registry each section's names are looked up in.
REGISTRY = {
    "dataset": "datasets",
    "model": "models",
    "optimizer": "optimizers",
    "scheduler": "schedulers",
    "loss": "losses",
    "metrics": "metrics",
    "callbacks": "callbacks",
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


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser: 10x faster
    """YAML as people write it: ``1e-3`` is a float (YAML 1.1 alone reads it as a string)."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str, *, aliases: bool = True) -> Any:
    """YAML through a safe loader; ``aliases=False`` refuses ``*alias`` references, which a file
    zoo writes never has and a hostile one uses to grow without bound ("billion laughs")."""
    if not aliases:
        for event in yaml.parse(text, Loader=Loader):
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError("YAML aliases (*name) are not allowed in a file zoo wrote")
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    def ignore_aliases(self, data: Any) -> bool:  # every value written out in full, no *alias
        return True


def dump_yaml(value: Any) -> str:
    """A config as zoo writes it: keys in order, one value per line, no aliases."""
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def shipped_config() -> Path:
    """The zoo.yaml that ships with zoo: inside an installed wheel, or at the checkout's root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / FILENAME, here.parents[1] / FILENAME):
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
    _expect_mapping(doc, str(path))
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
    _expect_mapping(defaults, f"{path}: defaults")
    _expect_mapping(runs, f"{path}: runs")
    for name, run in runs.items():
        _expect_mapping(run or {}, f"{path}: runs.{name}")
        _check_keys(run or {}, f"runs.{name}")
    _check_keys(defaults, "defaults")
    models = doc.get("models") or {}
    _expect_mapping(models, f"{path}: models")
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
    _expect_mapping(model, where)
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


def resolve(
    doc: Mapping[str, Any],
    name: str,
    *,
    is_model: Callable[[str], bool] = lambda _: False,
    models: Iterable[str] = (),
    overrides: Overrides = (),
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run config for ``name``: a run in ``doc``, else a registered model with the defaults;
    then the ``overrides`` (``--set``) and CLI ``options`` (e.g. ``{"epochs": 3}``)."""
    runs = doc["runs"]
    if name in runs:
        config = merge(doc["defaults"], runs[name])
    elif is_model(name):
        config = merge(doc["defaults"], {"model": {"name": name}})
    else:
        hint = did_you_mean(name, [*runs, *models])
        raise UnknownNameError(
            f"'{name}' is neither a run in {doc['path']} nor a registered model{hint} "
            "(zoo list runs / zoo list models)"
        )
    apply_overrides(config, overrides)
    for key, value in (options or {}).items():
        if value is not None:
            config[key] = value
    normalize(config)
    expand_home(config)
    validate(config)
    ordered = {key: config[key] for key in ("description", *KEYS) if key in config}
    return {"name": name, **ordered}


def normalize(config: dict[str, Any]) -> None:
    """``metrics: [top_k]`` -> ``[{name: top_k}]``, a section given as a bare name -> ``{name:
    ...}``; null optional sections are dropped."""
    for key in (*SECTIONS, *OPTIONAL_SECTIONS):
        if isinstance(config.get(key), str):
            config[key] = {"name": config[key]}
    for key in OPTIONAL_SECTIONS:
        if key in config and config[key] is None:
            del config[key]
    for key in LIST_SECTIONS:
        items = config.get(key)
        if isinstance(items, str):
            items = [items]
        if isinstance(items, list):
            config[key] = [{"name": i} if isinstance(i, str) else i for i in items]
        elif items is None and key in config:
            config[key] = []


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
        raise ConfigError(f"{shown}: {_unknown_key(keys[0], KEYS)}")
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


def revise(
    config: dict[str, Any], overrides: Overrides | None, registries: Mapping[str, Registry]
) -> dict[str, Any]:
    """A recorded run config (a run's config.yaml, a card's recipe) with ``overrides`` applied,
    normalized and checked as ``resolve`` checks a new one."""
    apply_overrides(config, overrides)
    normalize(config)
    expand_home(config)
    validate({k: v for k, v in config.items() if k != "name"})
    check_options(config, registries)
    return config


#: Dataset options that name a folder zoo would write to. In a recorded config (a run directory
#: or a card, which someone may have shared) they are not followed: the default cache is used,
#: unless the command line names the folder again (--set dataset.cache_dir=...).
WRITE_PLACES = ("cache_dir",)


def recorded(config: dict[str, Any], overrides: Overrides | None = None) -> dict[str, Any]:
    """A recorded run config made safe to use here: the places it names for zoo to write into
    are dropped (unless ``overrides`` give them), so a shared run cannot make zoo write outside
    the run directory and zoo's own folders."""
    given = {tuple(keys) for keys, _ in parse_overrides(overrides)}
    dataset = config.get("dataset")
    if isinstance(dataset, dict):
        for key in WRITE_PLACES:
            if ("dataset", key) not in given:
                dataset.pop(key, None)
    return config


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


def expand_home(config: dict[str, Any]) -> None:
    """``~/data`` in a section's option becomes the full path it means here, as the shell does
    for a word of its own: the run's config.yaml then says where the data really was."""
    for options in _sections(config):
        for key, value in options.items():
            if isinstance(value, str) and (value == "~" or value.startswith("~/")):
                options[key] = os.path.expanduser(value)


def _sections(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every mapping of a registered name and its options in ``config``, list items included."""
    found = [config[k] for k in (*SECTIONS, *OPTIONAL_SECTIONS) if isinstance(config.get(k), dict)]
    for key in LIST_SECTIONS:
        items = config.get(key)
        found += [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return found


def section_options(config: Mapping[str, Any], section: str) -> dict[str, Any]:
    """A section's options without its ``name``: what its factory is called with."""
    return part_options(config[section])


def part_options(part: Mapping[str, Any]) -> dict[str, Any]:
    """A named part's options (a section, or an item of ``metrics``/``callbacks``): all but its
    ``name``."""
    return {k: v for k, v in part.items() if k != "name"}


def check_options(config: Mapping[str, Any], registries: Mapping[str, Registry]) -> None:
    """Every section names a registered entry that takes the options given, with values of the
    types its factory declares: checked before any data is loaded (and without torch)."""
    for where, options in parts(config):
        section = where.split("[")[0].rstrip(".")
        try:
            entry = registries[REGISTRY[section]].get(options["name"])
        except UnknownNameError as exc:
            raise UnknownNameError(f"{where}name: {exc}") from exc
        entry.check(part_options(options), where=where)


def parts(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """``("optimizer.", {...})``, ``("callbacks[0].", {...})``: each named part of a run config
    with the prefix its options are shown with."""
    found = [(f"{k}.", config[k]) for k in (*SECTIONS, *OPTIONAL_SECTIONS) if config.get(k)]
    for key in LIST_SECTIONS:
        found += [(f"{key}[{i}].", item) for i, item in enumerate(config.get(key) or [])]
    return found


def validate(config: Mapping[str, Any]) -> None:
    """Check a resolved run: known keys, the right types, a name in each section."""
    _check_keys(config, "config")
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
        if not bad and key == "cuda_graphs":
            bad = isinstance(value, str) and value != "auto"
        if not bad and key == "threads":
            bad = value != "auto" and (isinstance(value, str) or not 1 <= value <= 1024)
        if bad:
            raise ConfigError(f"{key}: expected {expected}, got {value!r}")


def _check_keys(run: Mapping[str, Any], where: str) -> None:
    for key in run:
        if key not in KEYS:
            raise ConfigError(f"{where}: {_unknown_key(key, KEYS)}")


def precision(amp: bool | str | None) -> str | None:
    """The mixed precision ``amp`` asks for: ``None`` (full precision), ``bf16`` or ``fp16``."""
    if amp is None or amp is False:
        return None
    if amp is True:
        return "bf16"
    if amp not in PRECISIONS:
        raise ConfigError(f"amp: expected false, true (bf16), bf16 or fp16, got {amp!r}")
    return amp


def _unknown_key(key: str, known: Iterable[str]) -> str:
    hint = did_you_mean(key, known, n=1)
    return f"unknown key '{key}'{hint} (known: {', '.join(known)})"


def _expect_mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
