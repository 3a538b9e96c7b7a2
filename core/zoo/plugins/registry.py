"""Names -> factories for one kind of thing (models, datasets, optimizers, layers, schedulers,
losses, metrics, callbacks, transforms, weights): lookups, patterns, did-you-mean, collisions,
and the options each factory takes.

A bare name that two plugins registered is never silently won by one of them: each stays
reachable as ``<plugin>:<name>``, and the bare name raises :class:`AmbiguousNameError`.
Adding, looking up and listing are linear or better, so a plugin may register thousands.
"""

from __future__ import annotations

import fnmatch
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..errors import AmbiguousNameError, ConfigError, PluginError, UnknownNameError, ZooError
from ..hints import did_you_mean
from ..hookspecs import Callback, Metric, Splits
from . import options as option_types
from .cards import Card

#: The kinds of things plugins register, as (plural used by hooks and `zoo list`, singular).
KINDS: dict[str, str] = {
    "models": "model",
    "datasets": "dataset",
    "optimizers": "optimizer",
    "layers": "layer",
    "schedulers": "scheduler",
    "losses": "loss",
    "metrics": "metric",
    "callbacks": "callback",
    "transforms": "transform",
    "weights": "weights",  # a weights entry's factory returns its checked zoo.plugins.cards.Card
}


def plural(kind: str) -> str:
    """A kind's plural as hooks and ``zoo list`` name it: ``model`` -> ``models``."""
    return next((many for many, one in KINDS.items() if one == kind), f"{kind}s")


#: What zoo itself hands a factory of each kind (the run's parameters, epochs, the dataset's
#: classes...): never options of a config. ``zoo show`` and the errors list the others.
GIVEN: dict[str, tuple[str, ...]] = {
    "optimizer": ("params",),
    "scheduler": ("optimizer", "epochs", "steps_per_epoch"),
    "loss": ("num_classes",),
    "metric": ("num_classes", "classes"),
    "transform": ("input_shape",),
}


@dataclass(eq=False)
class Entry:
    """One registered name: its factory, a one-line description and who provided it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    description: str
    plugin: str
    distribution: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    @cached_property
    def parameters(self) -> dict[str, inspect.Parameter]:
        """The factory's keyword options (annotations evaluated), by name."""
        return {
            p.name: p
            for p in option_types.signature(self.factory).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    @cached_property
    def takes_any_option(self) -> bool:
        params = option_types.signature(self.factory).parameters.values()
        return any(p.kind == p.VAR_KEYWORD for p in params)

    def user_options(self) -> list[str]:
        """The options a config may set: the factory's keyword options but those zoo gives."""
        return [k for k in self.parameters if k not in GIVEN.get(self.kind, ())]

    def options(self) -> dict[str, Any]:
        """The keyword options the factory takes, with their defaults (``inspect.Parameter.empty``
        for required ones)."""
        return {name: p.default for name, p in self.parameters.items()}

    def accepts(self, option: str) -> bool:
        return option in self.parameters or self.takes_any_option

    def check(self, options: Mapping[str, Any] | Iterable[str], where: str = "") -> None:
        """Raise :class:`ConfigError` for an option the factory does not take, or (when
        ``options`` maps names to config values) a value that does not fit the option's type.
        ``where`` is the config key before the option's name, e.g. ``"model."``."""
        for key in options:
            prefix = f"{where}{key}: " if where else ""
            if key in GIVEN.get(self.kind, ()) and isinstance(options, Mapping):
                raise ConfigError(
                    f"{prefix}zoo gives {self.kind} '{self.name}' its {key} itself (the run's): "
                    f"not an option (it takes: {', '.join(self.user_options()) or 'none'})"
                )
            if not self.accepts(key):
                takes = ", ".join(self.user_options()) or "no options"
                hint = did_you_mean(key, self.user_options())
                raise ConfigError(
                    f"{prefix}{self.kind} '{self.name}' has no option '{key}'{hint} "
                    f"(it takes: {takes})"
                )
        if not isinstance(options, Mapping):
            return
        for key, value in options.items():
            param = self.parameters.get(key)
            if param is None or option_types.check(value, param.annotation):
                continue
            quote = ""
            if option_types.check(str(value), param.annotation) and not isinstance(value, str):
                quote = f"; YAML read it as {type(value).__name__}: to pass text, quote it, "
                quote += f"--set '{where}{key}=\"...\"'"
            raise ConfigError(
                f"{where}{key}: expected {option_types.describe(param.annotation)}, got "
                f"{option_types.shown(value)} ({self.kind} '{self.name}' takes "
                f"{self.option_text(key)}){quote}"
            )

    def option_text(self, name: str) -> str:
        """``lr: float = 0.1``: an option as its factory declares it."""
        param = self.parameters[name]
        shown = option_types.describe(param.annotation)
        typed = "" if param.annotation is param.empty else f": {shown}"
        default = " (required)" if param.default is param.empty else f" = {param.default!r}"
        return f"{name}{typed}{default}"

    def create(self, *args: Any, context: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Call the factory. ``context`` values (e.g. ``num_classes``) are passed only to a
        factory that names them; an option the factory does not take is a :class:`ConfigError`."""
        self.check(list(options))
        extra = {k: v for k, v in (context or {}).items() if k in self.parameters}
        extra = {k: v for k, v in extra.items() if k not in options}
        try:
            built = self.factory(*args, **extra, **options)
        except ZooError:
            raise  # already says what is wrong
        except (TypeError, ValueError) as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "default options"
            raise ConfigError(
                f"{self.kind} '{self.name}' could not be built with {shown}: {exc}"
            ) from exc
        except SystemExit as exc:  # a plugin must not end the program
            raise PluginError(f"{self.source()} tried to exit ({exc!r}) when built") from None
        expected = RETURNS[self.kind]
        if not expected[1](built):
            raise PluginError(
                f"{self.source()} returned {type(built).__name__}, not {expected[0]}: the "
                "plugin's factory is wrong"
            )
        return built

    def source(self) -> str:
        """``model 'cnn' of plugin 'cnn' (zoo-cnn)``: who to blame."""
        dist = f" ({self.distribution})" if self.distribution else ""
        return f"{self.kind} '{self.name}' of plugin '{self.plugin}'{dist}"


def _torch_instance(path: str) -> Callable[[Any], bool]:
    """Whether a value is a ``torch.nn.Module`` (``path`` names the class): torch is imported by
    then whenever the factory built one, so checking never imports it."""

    def check(value: Any) -> bool:
        torch = sys.modules.get("torch")
        if torch is None:
            return False
        cls = torch
        for part in path.split("."):
            cls = getattr(cls, part)
        return isinstance(value, cls)

    return check


#: What each kind's factory must return: (as the error names it, the check).
RETURNS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "model": ("an nn.Module", _torch_instance("nn.Module")),
    "layer": ("an nn.Module", _torch_instance("nn.Module")),
    "optimizer": ("a torch.optim.Optimizer", _torch_instance("optim.Optimizer")),
    "dataset": ("a zoo.Splits", lambda value: isinstance(value, Splits)),
    "scheduler": (
        "a learning-rate scheduler (with step and state_dict)",
        lambda value: (
            callable(getattr(value, "step", None)) and callable(getattr(value, "state_dict", None))
        ),
    ),
    "loss": ("a loss (a callable, e.g. an nn.Module)", callable),
    "metric": ("a zoo.Metric", lambda value: isinstance(value, Metric)),
    "callback": ("a zoo.Callback", lambda value: isinstance(value, Callback)),
    "transform": ("a batch transform (a callable: images, generator -> images)", callable),
    "weights": ("a weights card", lambda value: isinstance(value, Card)),
}


def describe(factory: Callable[..., Any], meta: Mapping[str, Any]) -> str:
    """The one-line description: ``meta['description']``, else the docstring's first line."""
    text = meta.get("description") or getattr(factory, "__doc__", None) or inspect.getdoc(factory)
    return text.strip().split("\n", 1)[0].strip() if text and text.strip() else ""


class Registry:
    """The names of one kind, each possibly registered by several plugins."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.plural = next(k for k, v in KINDS.items() if v == kind)
        self._entries: dict[str, list[Entry]] = {}
        self._count = 0
        self._sorted: list[Entry] | None = None
        self.notes: list[str] = []  # e.g. plugins that failed to load: one may provide a name

    def add(self, *entries: Entry) -> None:
        for entry in entries:
            same = self._entries.setdefault(entry.name, [])
            for other in same:  # the few plugins sharing this one name
                if other.plugin == entry.plugin:
                    raise PluginError(
                        f"plugin '{entry.plugin}' registered {self.kind} '{entry.name}' twice"
                    )
            same.append(entry)
        self._count += len(entries)
        self._sorted = None

    def remove_plugin(self, plugin: str, names: Iterable[str]) -> None:
        """Forget the entries ``plugin`` registered under ``names``."""
        for name in names:
            kept = [e for e in self._entries.get(name, ()) if e.plugin != plugin]
            self._count -= len(self._entries.get(name, ())) - len(kept)
            if kept:
                self._entries[name] = kept
            else:
                self._entries.pop(name, None)
        self._sorted = None

    def entries(self) -> list[Entry]:
        """Every entry, sorted by name then plugin (sorted once until the next change)."""
        if self._sorted is None:
            by_plugin = lambda e: e.plugin  # noqa: E731
            self._sorted = [
                e
                for name in sorted(self._entries)
                for e in (
                    self._entries[name]
                    if len(self._entries[name]) == 1
                    else sorted(self._entries[name], key=by_plugin)
                )
            ]
        return self._sorted

    def listing(self, pattern: str | None = None) -> list[tuple[str, Entry]]:
        """``(shown name, entry)`` of every entry matching an fnmatch pattern, sorted; a name two
        plugins registered is shown qualified, ``<plugin>:<name>``."""
        shared = {name for name, same in self._entries.items() if len(same) > 1}
        rows = [(e.qualified_name if e.name in shared else e.name, e) for e in self.entries()]
        if pattern is None:
            return rows
        match = fnmatch.fnmatchcase
        return [
            (s, e) for s, e in rows if match(e.name, pattern) or match(e.qualified_name, pattern)
        ]

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted names matching an fnmatch pattern; a collision shows its qualified names."""
        return [shown for shown, _ in self.listing(pattern)]

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except LookupError:
            return False
        return True

    def __len__(self) -> int:
        return self._count

    def get(self, name: str) -> Entry:
        plugin, _, bare = name.rpartition(":")
        found = self._entries.get(bare, [])
        if plugin:
            found = [e for e in found if e.plugin == plugin]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            choices = ", ".join(sorted(e.qualified_name for e in found))
            raise AmbiguousNameError(
                f"{self.kind} '{name}' is registered by {len(found)} plugins: use one of {choices}"
            )
        raise UnknownNameError(self.unknown_message(name))

    def unknown_message(self, name: str, also: Iterable[str] = ()) -> str:
        hint = did_you_mean(name, [*self._entries, *also])
        message = (
            f"unknown {self.kind} '{name}'{hint} (zoo list {self.plural} shows all {len(self)})"
        )
        for note in self.notes:
            message += f"; {note}"
        return message
