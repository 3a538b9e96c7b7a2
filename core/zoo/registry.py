"""Names -> factories: lookups, patterns, did-you-mean and collisions.

A :class:`Registry` holds what plugins registered for one kind (models, datasets, optimizers or
layers). A bare name that two plugins registered is never silently won by one of them: each stays
reachable as ``<plugin>:<name>``, and the bare name raises :class:`AmbiguousNameError`.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import AmbiguousNameError, ConfigError, PluginError, UnknownNameError, ZooError

#: The kinds of things plugins register, as (plural used by hooks and `zoo list`, singular).
KINDS: dict[str, str] = {
    "models": "model",
    "datasets": "dataset",
    "optimizers": "optimizer",
    "layers": "layer",
}


@dataclass(frozen=True)
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

    def options(self) -> dict[str, Any]:
        """The keyword options the factory takes, with their defaults (``inspect.Parameter.empty``
        for required ones)."""
        return {
            p.name: p.default
            for p in _signature(self.factory).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    def accepts(self, option: str) -> bool:
        params = _signature(self.factory).parameters.values()
        return option in self.options() or any(p.kind == p.VAR_KEYWORD for p in params)

    def check(self, options: Iterable[str], where: str = "") -> None:
        """Raise :class:`ConfigError` for an option the factory does not take; ``where`` prefixes
        the message with the config key, e.g. ``"model."``."""
        for key in options:
            if not self.accepts(key):
                takes = ", ".join(k for k in self.options() if k != "params") or "no options"
                prefix = f"{where}{key}: " if where else ""
                raise ConfigError(
                    f"{prefix}{self.kind} '{self.name}' has no option '{key}' (it takes: {takes})"
                )

    def create(self, *args: Any, context: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Call the factory. ``context`` values (e.g. ``num_classes``) are passed only to a
        factory that names them; an option the factory does not take is a :class:`ConfigError`."""
        self.check(options)
        named = self.options()
        extra = {k: v for k, v in (context or {}).items() if k in named and k not in options}
        try:
            return self.factory(*args, **extra, **options)
        except ZooError:
            raise  # already says what is wrong
        except (TypeError, ValueError) as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "default options"
            raise ConfigError(
                f"{self.kind} '{self.name}' could not be built with {shown}: {exc}"
            ) from exc


def _signature(factory: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins have none: accept anything
        return inspect.Signature([inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD)])


def describe(factory: Callable[..., Any], meta: Mapping[str, Any]) -> str:
    """The one-line description: ``meta['description']``, else the docstring's first line."""
    text = meta.get("description") or inspect.getdoc(factory) or ""
    return text.strip().splitlines()[0] if text.strip() else ""


class Registry:
    """The names of one kind, each possibly registered by several plugins."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, list[Entry]] = {}
        self.notes: list[str] = []  # e.g. plugins that failed to load: one may provide a name

    def add(self, entry: Entry) -> None:
        same = self._entries.setdefault(entry.name, [])
        if any(e.plugin == entry.plugin for e in same):
            raise PluginError(
                f"plugin '{entry.plugin}' registered {self.kind} '{entry.name}' twice"
            )
        same.append(entry)

    def remove_plugin(self, plugin: str) -> None:
        for name in list(self._entries):
            self._entries[name] = [e for e in self._entries[name] if e.plugin != plugin]
            if not self._entries[name]:
                del self._entries[name]

    def entries(self) -> list[Entry]:
        return sorted((e for es in self._entries.values() for e in es), key=_sort_key)

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted names matching an fnmatch pattern; a collision shows its qualified names."""
        return [self.display_name(e) for e in self.entries() if _matches(e, pattern)]

    def display_name(self, entry: Entry) -> str:
        return entry.qualified_name if len(self._entries[entry.name]) > 1 else entry.name

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except LookupError:
            return False
        return True

    def __len__(self) -> int:
        return sum(len(es) for es in self._entries.values())

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
        known = sorted({*self.names(), *also})
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f" — did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        plural = next(k for k, v in KINDS.items() if v == self.kind)
        message = f"unknown {self.kind} '{name}'{hint} (zoo list {plural} shows all {len(self)})"
        for note in self.notes:
            message += f"; {note}"
        return message


def _sort_key(entry: Entry) -> tuple[str, str]:
    return entry.name, entry.plugin


def _matches(entry: Entry, pattern: str | None) -> bool:
    if pattern is None:
        return True
    return fnmatch.fnmatchcase(entry.name, pattern) or fnmatch.fnmatchcase(
        entry.qualified_name, pattern
    )
