"""The plugin manager: pluggy's ``PluginManager`` loading the ``zoo`` entry points, and the
registries their hooks fill.

Every plugin, built-in or third-party, takes the same path: pluggy loads and registers it (its
distribution and version recorded by pluggy, switched-off plugins blocked with ``set_blocked``),
then each ``register_*`` hook is called through pluggy's hook caller for that plugin alone, with a
``register`` callable that knows the plugin's name. So zoo can name the plugin behind every entry
and every failure: a plugin that fails to import, or whose hook raises, is skipped with a one-line
warning (``ZOO_STRICT_PLUGINS=1`` makes that an error), and one broken package never breaks every
command.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
import time
import types
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from .. import hookspecs
from ..errors import PluginError, ZooWarning
from ..files import is_name
from ..hints import did_you_mean
from ..text import shown
from . import settings
from .cards import read_card
from .registry import KINDS, Entry, Registry, describe

ENTRY_POINT_GROUP = "zoo"
#: Modules of the core that register through the same hooks as third-party plugins.
BUILTIN_PLUGINS = {
    "optimizers": "zoo.plugins.builtin.optimizers",
    "layers": "zoo.plugins.builtin.layers",
    "schedulers": "zoo.plugins.builtin.schedulers",
    "losses": "zoo.plugins.builtin.losses",
    "metrics": "zoo.plugins.builtin.metrics",
    "callbacks": "zoo.plugins.builtin.callbacks",
    "transforms": "zoo.plugins.builtin.transforms",
}


#: What a plugin's import or hook may raise without taking zoo down with it: any error, and an
#: exit (a plugin calling sys.exit would otherwise end every command silently).
PLUGIN_FAILURES = (Exception, SystemExit)
#: Seconds a plugin's import may take before zoo goes on without it (ZOO_PLUGIN_TIMEOUT), and
#: after which zoo says it is slow.
IMPORT_TIMEOUT = 30.0  # a plugin importing torch on a cold disk can take 10 s and more
SLOW_IMPORT = 2.0


class PluginWarning(ZooWarning):
    """A plugin could not be loaded and was skipped."""


@dataclass
class PluginInfo:
    """One plugin as ``zoo plugins`` shows it."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"  # or "failed", "disabled"
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)

    @property
    def source(self) -> str:
        if self.distribution is None:
            return "(not installed)"
        return f"{self.distribution} {self.version or ''}".strip()


class Catalog:
    """A pluggy plugin manager and the registries its plugins filled: everything zoo knows by
    name, and which plugin (and distribution) brought each."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registries = {kind: Registry(singular) for kind, singular in KINDS.items()}
        self.plugins: dict[str, PluginInfo] = {}

    # --- loading ------------------------------------------------------------------------------

    def load_builtins(self) -> None:
        version = _version(hookspecs.DISTRIBUTION)
        for name, module in BUILTIN_PLUGINS.items():
            self.add_plugin(importlib.import_module(module), name, hookspecs.DISTRIBUTION, version)

    def load_entry_points(self) -> None:
        """Load the installed ``zoo`` entry points through pluggy, in one pass over the installed
        distributions. Those switched off (``ZOO_PLUGINS``, ``ZOO_DISABLE_PLUGINS``, ``zoo plugins
        disable``) are blocked; each of the others is imported on its own first, so one that fails
        to import is blocked and reported instead of stopping pluggy's loading of the rest."""
        found, clashes = _entry_points()
        for name in settings.blocked(set(found)):
            self.pm.set_blocked(name)
        imported: dict[int, str] = {}
        for name, ep in sorted(found.items()):
            distribution, version = _dist_of(ep)
            if self.pm.is_blocked(name):
                self.plugins[name] = PluginInfo(name, distribution, version, status="disabled")
                continue
            if name in self.plugins:  # one of zoo's own names
                self._name_taken(name, distribution, version)
                continue
            try:
                plugin = _import(ep)
                if id(plugin) in imported:
                    raise PluginError(f"it is the plugin '{imported[id(plugin)]}' again")
                imported[id(plugin)] = name
            except PLUGIN_FAILURES as exc:
                self.pm.set_blocked(name)
                self._fail(self._record(name, distribution, version), exc)
        self._register_entry_points(found, imported)
        distributions = {id(plugin): dist for plugin, dist in self.pm.list_plugin_distinfo()}
        for name in sorted(found):
            plugin = self.pm.get_plugin(name)
            if plugin is not None and name not in self.plugins:
                dist = distributions[id(plugin)]
                self._admit(plugin, self._record(name, dist.project_name, dist.version))
        for ep in clashes:
            self._name_taken(ep.name, *_dist_of(ep))

    def _register_entry_points(
        self, found: Mapping[str, metadata.EntryPoint], imported: Mapping[int, str]
    ) -> None:
        """pluggy's ``load_setuptools_entrypoints``; a plugin whose hooks pluggy refuses is taken
        out, blocked and reported, and loading goes on with the others."""
        while True:
            try:
                self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
                return
            except pluggy.PluginValidationError as exc:
                name = imported.get(id(exc.plugin))
                if name is None:
                    raise
                self._unregister(name)
                self.pm.set_blocked(name)
                self._fail(self._record(name, *_dist_of(found[name])), exc)

    def add_plugin(
        self, plugin: Any, name: str, distribution: str | None = None, version: str | None = None
    ) -> PluginInfo:
        """Register ``plugin`` (a module or object with ``@zoo.hookimpl`` functions) and collect
        what its hooks register. Failures are recorded on the returned info, not raised."""
        if name in self.plugins:
            return self._name_taken(name, distribution, version)
        info = self._record(name, distribution, version)
        try:
            self.pm.register(plugin, name=name)
        except PLUGIN_FAILURES as exc:
            self._unregister(name)
            self._fail(info, exc)
            return info
        self._admit(plugin, info)
        return info

    def _name_taken(self, name: str, distribution: str | None, version: str | None) -> PluginInfo:
        info = self.plugins[f"{name} ({distribution})"] = PluginInfo(name, distribution, version)
        taken = self.plugins[name].source
        self._fail(info, PluginError(f"the plugin name '{name}' is already used by {taken}"))
        return info

    def _admit(self, plugin: Any, info: PluginInfo) -> None:
        """Check a registered plugin and collect its entries, all or nothing."""
        try:
            declared = getattr(plugin, "ZOO_HOOKSPEC_VERSION", hookspecs.HOOKSPEC_VERSION)
            if declared != hookspecs.HOOKSPEC_VERSION:
                raise PluginError(
                    f"it was written for zoo hook specs v{declared}, this zoo has "
                    f"v{hookspecs.HOOKSPEC_VERSION}: install a zoo and a plugin that agree"
                )
            self._check_hooks(plugin)  # a misspelled hook name fails here, for this plugin
            entries = self._collect(plugin, info)
        except PLUGIN_FAILURES as exc:  # a plugin's bug must not break every command
            self._unregister(info.name)
            self._fail(info, exc)
            return
        for kind, added in entries.items():
            self.registries[kind].add(*added)
            info.registered[kind] = [entry.name for entry in added]

    def _check_hooks(self, plugin: Any) -> None:
        """pluggy's ``check_pending`` for this one plugin: each of its hook implementations must
        name a hook zoo specifies (unless marked ``optionalhook``). ``check_pending`` itself
        checks every registered plugin at once, so one plugin's misspelled hook would fail, and
        be blamed on, each plugin checked after it."""
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.spec is not None:
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not impl.optionalhook:
                    specified = [n for n in dir(hookspecs) if n.startswith("register_")]
                    hint = did_you_mean(caller.name, specified, n=1)
                    raise pluggy.PluginValidationError(
                        plugin,
                        f"unknown hook '{caller.name}'{hint} (zoo's hooks: see docs/plugins.md)",
                    )

    def _collect(self, plugin: Any, info: PluginInfo) -> dict[str, list[Entry]]:
        """Call each ``register_<kind>`` hook of ``plugin`` with a ``register`` that records
        what it is given, refusing bad names and duplicates (a set: linear in the entries)."""
        collected: dict[str, list[Entry]] = {}
        seen: set[tuple[str, str]] = set()
        dist = info.distribution
        root = _package_folder(plugin)
        for kind, singular in KINDS.items():
            if kind == "weights":

                def register_weights(name: str, card: Any, **meta: Any) -> None:
                    if not is_name(name) or "." not in name:
                        raise PluginError(f"bad weights name {shown(name)}: expected MODEL.TAG")
                    if ("weights", name) in seen:
                        raise PluginError(f"weights '{name}' registered twice")
                    seen.add(("weights", name))
                    # The card is read and checked when the weights are used: a broken one
                    # fails alone, with one line, and never stops the plugin's other entries.
                    factory = functools.partial(read_card, name, card, root)
                    description = meta.get("description") or ""
                    entry = Entry("weights", name, factory, description, info.name, dist, meta)
                    collected.setdefault("weights", []).append(entry)

                self.hook_of(plugin, "register_weights")(register=register_weights)
                continue

            def register(
                name: str, factory: Any, _kind: str = kind, _singular: str = singular, **meta: Any
            ) -> None:
                singular = _singular
                if not is_name(name):  # it may become a file name (a run's, a weights file's)
                    raise PluginError(
                        f"bad {singular} name {shown(name)}: use letters, digits, _, - and ."
                    )
                if not callable(factory):
                    raise PluginError(f"{singular} '{name}' has a factory that is not callable")
                if (_kind, name) in seen:
                    raise PluginError(f"{singular} '{name}' registered twice")
                seen.add((_kind, name))
                description = describe(factory, meta)
                entry = Entry(singular, name, factory, description, info.name, dist, meta)
                collected.setdefault(_kind, []).append(entry)

            self.hook_of(plugin, f"register_{kind}")(register=register)
        return collected

    def hook_of(self, plugin: Any, hook: str) -> Any:
        """Pluggy's caller of ``hook`` for ``plugin``'s implementation alone (calling it with no
        implementation does nothing)."""
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    def implementing(self, hook: str) -> list[str]:
        """The names of the plugins that implement ``hook``, in registration order."""
        return [impl.plugin_name for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls())]

    def _record(self, name: str, distribution: str | None, version: str | None) -> PluginInfo:
        info = self.plugins[name] = PluginInfo(name, distribution, version)
        return info

    def _unregister(self, name: str) -> None:
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        info.status = "failed"
        info.error = f"{type(exc).__name__}: {exc}"
        where = f" ({info.source})" if info.distribution else ""
        message = f"plugin '{info.name}'{where} failed to load and was skipped: {info.error}"
        if os.environ.get("ZOO_STRICT_PLUGINS") == "1":
            raise PluginError(message) from exc
        warnings.warn(message, PluginWarning, stacklevel=3)

    # --- changing and reading -----------------------------------------------------------------

    def remove_plugin(self, name: str) -> None:
        """Forget a plugin and everything it registered."""
        info = self.plugins.pop(name, None)
        self._unregister(name)
        for kind, names in (info.registered if info is not None else {}).items():
            self.registries[kind].remove_plugin(name, names)

    def use_config(self, path: Path, models: Mapping[str, Any]) -> None:
        """Register the declarative ``models:`` of the config file at ``path`` (replacing those
        of any other config file) as the plugin ``config``."""
        from .declarative import PLUGIN_NAME, ConfigModels

        self.remove_plugin(PLUGIN_NAME)
        if models:
            plugin = ConfigModels(Path(path), models, self.registries["layers"])
            self.add_plugin(plugin, PLUGIN_NAME, str(path))

    def note_unavailable(self) -> None:
        """Let unknown-name errors mention the plugins that failed or are disabled."""
        notes = [
            f"plugin '{i.name}' ({i.source}) failed to load and may be the one providing it "
            "(zoo plugins says why)"
            for i in self.plugins.values()
            if i.status == "failed"
        ]
        notes += [
            f"plugin '{i.name}' is disabled (zoo plugins enable {i.name})"
            for i in self.plugins.values()
            if i.status == "disabled"
        ]
        for registry in self.registries.values():
            registry.notes = notes


def load_catalog(
    plugins: Iterable[tuple[str, Any]] = (), *, entry_points: bool = True, builtins: bool = True
) -> Catalog:
    """A fresh :class:`Catalog`: the built-in plugins, the installed entry points, then
    ``plugins`` given as ``(name, module_or_object)`` pairs."""
    catalog = Catalog()
    if builtins:
        catalog.load_builtins()
    if entry_points:
        catalog.load_entry_points()
    for name, plugin in plugins:
        catalog.add_plugin(plugin, name)
    catalog.note_unavailable()
    return catalog


def installed_plugins() -> list[str]:
    """The names of the installed ``zoo`` entry points, loaded or not (no plugin is imported)."""
    return sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})


def _import(ep: metadata.EntryPoint) -> Any:
    """Import a plugin in a thread of its own, waiting at most ``ZOO_PLUGIN_TIMEOUT`` seconds:
    a plugin that hangs at import is left behind (and reported) instead of hanging zoo."""
    try:
        timeout = float(os.environ.get("ZOO_PLUGIN_TIMEOUT") or IMPORT_TIMEOUT)
    except ValueError:
        timeout = IMPORT_TIMEOUT
    outcome: dict[str, Any] = {}

    def load() -> None:
        try:
            outcome["plugin"] = ep.load()
        except BaseException as exc:  # handed to the caller, who decides
            outcome["error"] = exc

    start = time.perf_counter()
    thread = threading.Thread(target=load, name=f"zoo-import-{ep.name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise PluginError(
            f"its import did not finish in {timeout:g} s (ZOO_PLUGIN_TIMEOUT); zoo went on without "
            f"it: zoo plugins disable {ep.name} stops zoo from trying"
        )
    if "error" in outcome:
        raise outcome["error"]
    seconds = time.perf_counter() - start
    if seconds > SLOW_IMPORT:
        warnings.warn(
            f"plugin '{ep.name}' took {seconds:.1f} s to import; every zoo command waits for it "
            f"(zoo plugins disable {ep.name} skips it)",
            PluginWarning,
            stacklevel=3,
        )
    return outcome["plugin"]


def _entry_points() -> tuple[dict[str, metadata.EntryPoint], list[metadata.EntryPoint]]:
    """The installed ``zoo`` entry points by name, and those whose name another distribution
    already uses (the same distribution visible twice on sys.path counts once)."""
    found: dict[str, metadata.EntryPoint] = {}
    clashes: list[metadata.EntryPoint] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        first = found.setdefault(ep.name, ep)
        if first is not ep and (first.value, _dist_of(first)) != (ep.value, _dist_of(ep)):
            clashes.append(ep)
    return found, clashes


def _package_folder(plugin: Any) -> Path | None:
    """The folder of a plugin's package (of its module, for a plugin object): the only place its
    weights cards may point into."""
    module = (
        plugin
        if isinstance(plugin, types.ModuleType)
        else importlib.import_module(type(plugin).__module__)
    )
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else None


def _dist_of(ep: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    return (dist.metadata["Name"], dist.version) if dist is not None else (None, None)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
