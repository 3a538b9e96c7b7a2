"""The resolved run: one frozen, typed :class:`RunConfig`, built once from zoo.yaml and ``--set``
(or from a recorded config: a run's config.yaml, a card's recipe) and read everywhere. Its
defaults and derived values (the validation batch size, the precision, which way the monitored
number improves) are here, and nowhere else; the mapping form exists only to be written (YAML,
JSON) and read back (:meth:`RunConfig.from_dict`, :meth:`RunConfig.to_dict`).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError, UnknownNameError
from ..hints import did_you_mean
from ..plugins.builtin import auto_mode
from ..plugins.registry import Registry
from .keys import KEYS, LIST_SECTIONS, OPTIONAL_SECTIONS, REGISTRY, SECTIONS, precision, validate
from .overrides import Overrides, apply_overrides, merge, parse_overrides


@dataclass(frozen=True)
class Part:
    """A named part of a run (its dataset, model, optimizer, scheduler, loss, a metric, a
    callback): the registered name and the options its factory is called with."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> Part:
        """A part from its mapping form, ``{name: ..., option: ...}``."""
        return cls(value["name"], {k: v for k, v in value.items() if k != "name"})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **copy.deepcopy(dict(self.options))}

    def without(self, *keys: str) -> Part:
        return Part(self.name, {k: v for k, v in self.options.items() if k not in keys})


#: The loss of a config that names none (a run or a card from before losses were plugins).
DEFAULT_LOSS = Part("cross_entropy")


@dataclass(frozen=True)
class RunConfig:
    """A resolved, checked run. Build it with :func:`resolve_run` (zoo.yaml and --set) or
    :meth:`from_dict` (a recorded config); change it with :meth:`replace`."""

    name: str
    dataset: Part
    model: Part
    optimizer: Part
    epochs: int
    batch_size: int
    loss: Part = DEFAULT_LOSS
    scheduler: Part | None = None
    metrics: tuple[Part, ...] = ()
    callbacks: tuple[Part, ...] = ()
    augment: tuple[Part, ...] = ()  # batch transforms of the training batches, in order
    description: str | None = None
    valid_batch_size: int | None = None  # default: twice batch_size (see valid_size)
    shuffle: bool = True
    seed: int = 0
    device: str = "auto"
    threads: int | str = "auto"
    amp: bool | str = False
    init: str | None = None
    accumulate: int = 1
    compile: bool = False
    deterministic: bool = True
    cuda_graphs: bool | str = False
    monitor: str = "val_loss"  # the number that says which epoch is the best
    mode: str = "auto"  # min or max (auto: min for a loss, else max)

    # --- derived ---------------------------------------------------------------------------

    @property
    def valid_size(self) -> int:
        """The validation batch size: ``valid_batch_size``, else twice ``batch_size``."""
        return self.valid_batch_size or self.batch_size * 2

    @property
    def precision(self) -> str | None:
        """The mixed precision ``amp`` asks for: ``None``, ``bf16`` or ``fp16``."""
        return precision(self.amp)

    @property
    def best_mode(self) -> str:
        """``min`` or ``max``: which way :attr:`monitor` improves."""
        return auto_mode(self.monitor, self.mode)

    def best(self, history: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """The best epoch's row of ``history``: by :attr:`monitor`, the way it improves."""
        return best_row(history, self.monitor, self.best_mode)

    def parts(self) -> list[tuple[str, Part]]:
        """``("optimizer.", part)``, ``("callbacks[0].", part)``: each named part with the prefix
        its options are shown with."""
        found = [(f"{k}.", getattr(self, k)) for k in (*SECTIONS, *OPTIONAL_SECTIONS)]
        found = [(where, part) for where, part in found if part is not None]
        for key in LIST_SECTIONS:
            found += [(f"{key}[{i}].", part) for i, part in enumerate(getattr(self, key))]
        return found

    # --- the mapping form, for YAML and JSON ------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str | None = None) -> RunConfig:
        """A recorded config (config.yaml, a card's recipe), normalized and checked; ``name``
        when it records none."""
        config = copy.deepcopy(dict(data))
        run_name = config.pop("name", None) or name
        if not isinstance(run_name, str) or not run_name:
            raise ConfigError("a run config names its run ('name')")
        normalize(config)
        validate(config)
        values: dict[str, Any] = {"name": run_name}
        for key in (*SECTIONS, *OPTIONAL_SECTIONS):
            if config.get(key) is not None:
                values[key] = Part.of(config[key])
        for key in LIST_SECTIONS:
            values[key] = tuple(Part.of(item) for item in config.get(key) or ())
        scalars = {f.name for f in dataclasses.fields(cls)} - set(values)
        values |= {k: v for k, v in config.items() if k in scalars and v is not None}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The mapping zoo writes (config.yaml, a card's recipe): name, description, the
        sections, then every scalar (defaults included: the record says what ran)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            out["description"] = self.description
        for key in KEYS:
            value = getattr(self, key)
            if isinstance(value, Part):
                out[key] = value.to_dict()
            elif isinstance(value, tuple):
                if value:
                    out[key] = [part.to_dict() for part in value]
            elif value is not None and key != "description":
                out[key] = value
        return out

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


def best_row(
    history: Iterable[Mapping[str, Any]], monitor: str = "val_loss", mode: str = "min"
) -> Mapping[str, Any] | None:
    """The row of ``history`` whose ``monitor`` is lowest (``mode`` min) or highest (max); the
    first such row on a tie, ``None`` when no row has that number. The one definition of "the
    best epoch": best.safetensors, ``zoo runs``, ``Run.best``, cards and sweeps all use it."""
    rows = [
        row
        for row in history
        if isinstance(row.get(monitor), (int, float)) and not isinstance(row.get(monitor), bool)
    ]
    if not rows:
        return None
    pick = min if auto_mode(monitor, mode) == "min" else max
    return pick(rows, key=lambda row: row[monitor])


def resolve_run(
    doc: Mapping[str, Any],
    name: str,
    *,
    is_model: Callable[[str], bool] = lambda _: False,
    models: Iterable[str] = (),
    overrides: Overrides = (),
    options: Mapping[str, Any] | None = None,
) -> RunConfig:
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
    changed = [
        ".".join(keys)
        for keys, _ in parse_overrides(overrides)
        if keys[0] != "dataset" or keys[1:] == ["name"]  # where the data is changes no recipe
    ] + [key for key, value in (options or {}).items() if value is not None]
    if changed and isinstance(config.get("description"), str):  # it described the run as written
        config["description"] += f" (changed here: {', '.join(dict.fromkeys(changed))})"
    return RunConfig.from_dict(config, name)


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


def revise(
    config: RunConfig, overrides: Overrides | None, registries: Mapping[str, Registry]
) -> RunConfig:
    """A recorded run config with ``overrides`` applied, normalized and checked as ``resolve_run``
    checks a new one (options against their factories included)."""
    data = config.to_dict()
    apply_overrides(data, overrides)
    normalize(data)
    expand_home(data)
    revised = RunConfig.from_dict(data)
    check_options(revised, registries)
    return revised


#: Dataset options that name a folder zoo would write to. In a recorded config (a run directory
#: or a card, which someone may have shared) they are not followed: the default cache is used,
#: unless the command line names the folder again (--set dataset.cache_dir=...).
WRITE_PLACES = ("cache_dir",)


def recorded(config: RunConfig, overrides: Overrides | None = None) -> RunConfig:
    """A recorded run config made safe to use here: the places it names for zoo to write into
    are dropped (unless ``overrides`` give them), so a shared run cannot make zoo write outside
    the run directory and zoo's own folders."""
    given = {tuple(keys) for keys, _ in parse_overrides(overrides)}
    dropped = [key for key in WRITE_PLACES if ("dataset", key) not in given]
    return config.replace(dataset=config.dataset.without(*dropped))


#: A dataset's options that name a place on this machine: stored as full paths, so that the run
#: directory says where the data really was and a resume from another folder finds it.
PLACES = ("path", "cache_dir", "system_dir")


def expand_home(config: dict[str, Any]) -> None:
    """``~/data`` in a section's option becomes the full path it means here, as the shell does
    for a word of its own; a dataset's places (:data:`PLACES`) given relative to the current
    folder become full paths too."""
    for options in _sections(config):
        for key, value in options.items():
            if isinstance(value, str) and (value == "~" or value.startswith("~/")):
                options[key] = os.path.expanduser(value)
    dataset = config.get("dataset")
    if isinstance(dataset, dict):
        for key in PLACES:
            value = dataset.get(key)
            if isinstance(value, str) and value and not os.path.isabs(value):
                dataset[key] = os.path.abspath(value)


def _sections(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every mapping of a registered name and its options in ``config``, list items included."""
    found = [config[k] for k in (*SECTIONS, *OPTIONAL_SECTIONS) if isinstance(config.get(k), dict)]
    for key in LIST_SECTIONS:
        items = config.get(key)
        found += [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return found


def check_options(config: RunConfig, registries: Mapping[str, Registry]) -> None:
    """Every part names a registered entry that takes the options given, with values of the
    types its factory declares: checked before any data is loaded (and without torch)."""
    for where, part in config.parts():
        section = where.split("[")[0].rstrip(".")
        try:
            entry = registries[REGISTRY[section]].get(part.name)
        except UnknownNameError as exc:
            raise UnknownNameError(f"{where}name: {exc}") from exc
        entry.check(dict(part.options), where=where)
