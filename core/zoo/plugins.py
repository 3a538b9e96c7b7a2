"""The plugin manager: entry points of the ``zoo`` group, load errors, and what each plugin
registered.

Every plugin, built-in or third-party, goes through the same path: it is registered with a pluggy
``PluginManager``, and each of its hook implementations is called with a ``register`` callable that
knows the plugin's name. A plugin that fails to import or whose hook raises is skipped with a
one-line warning (``ZOO_STRICT_PLUGINS=1`` makes that an error), so one broken package never
breaks every command.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError, ZooError
from .registry import KINDS, Entry, Registry, describe

ENTRY_POINT_GROUP = "zoo"
#: Modules of the core that register through the same hooks as third-party plugins.
BUILTIN_PLUGINS = {"builtin": "zoo.builtin.optimizers", "layers": "zoo.builtin.layers"}


class PluginWarning(UserWarning):
    """A plugin could not be loaded and was skipped."""


@dataclass
class PluginInfo:
    """One plugin as ``zoo plugins`` shows it."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"  # or "failed"
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)

    @property
    def source(self) -> str:
        if self.distribution is None:
            return "(not installed)"
        return f"{self.distribution} {self.version or ''}".strip()


class Zoo:
    """A plugin manager and the registries its plugins filled."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registries = {kind: Registry(singular) for kind, singular in KINDS.items()}
        self.plugins: dict[str, PluginInfo] = {}

    def add_plugin(
        self, plugin: Any, name: str, distribution: str | None = None, version: str | None = None
    ) -> PluginInfo:
        """Register ``plugin`` (a module or object with ``@zoo.hookimpl`` functions) and collect
        what its hooks register. Failures are recorded on the returned info, not raised."""
        if name in self.plugins:
            info = self._record(name, distribution, version, key=f"{name} ({distribution})")
            taken = self.plugins[name].source
            self._fail(info, PluginError(f"the plugin name '{name}' is already used by {taken}"))
            return info
        info = self._record(name, distribution, version)
        try:
            declared = getattr(plugin, "ZOO_HOOKSPEC_VERSION", hookspecs.HOOKSPEC_VERSION)
            if declared != hookspecs.HOOKSPEC_VERSION:
                raise PluginError(
                    f"it was written for zoo hook specs v{declared}, this zoo has "
                    f"v{hookspecs.HOOKSPEC_VERSION}: install a zoo and a plugin that agree"
                )
            self.pm.register(plugin, name=name)
            self.pm.check_pending()  # a misspelled hook name fails here, loudly
            entries = self._collect(name, info)
        except Exception as exc:  # a plugin's bug must not break every command
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            self._fail(info, exc)
            return info
        for entry in entries:
            self.registries[_plural(entry.kind)].add(entry)
            info.registered.setdefault(_plural(entry.kind), []).append(entry.name)
        return info

    def _collect(self, name: str, info: PluginInfo) -> list[Entry]:
        entries: list[Entry] = []
        for kind, singular in KINDS.items():
            hook = getattr(self.pm.hook, f"register_{kind}")
            for impl in hook.get_hookimpls():
                if impl.plugin_name != name:
                    continue

                def register(
                    entry_name: str, factory: Any, _kind: str = singular, **meta: Any
                ) -> None:
                    if not isinstance(entry_name, str) or not entry_name or ":" in entry_name:
                        raise PluginError(f"bad {_kind} name {entry_name!r}")
                    if not callable(factory):
                        raise PluginError(
                            f"{_kind} '{entry_name}' has a factory that is not callable"
                        )
                    if any(e.kind == _kind and e.name == entry_name for e in entries):
                        raise PluginError(f"{_kind} '{entry_name}' registered twice")
                    entries.append(
                        Entry(
                            _kind,
                            entry_name,
                            factory,
                            describe(factory, meta),
                            name,
                            info.distribution,
                            dict(meta),
                        )
                    )

                impl.function(register=register)
        return entries

    def _record(
        self, name: str, distribution: str | None, version: str | None, key: str | None = None
    ) -> PluginInfo:
        info = self.plugins[key or name] = PluginInfo(name, distribution, version)
        return info

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        info.status = "failed"
        info.error = f"{type(exc).__name__}: {exc}"
        where = f" ({info.source})" if info.distribution else ""
        message = f"plugin '{info.name}'{where} failed to load and was skipped: {info.error}"
        if os.environ.get("ZOO_STRICT_PLUGINS") == "1":
            raise PluginError(message) from exc
        warnings.warn(message, PluginWarning, stacklevel=2)

    def load_builtins(self) -> None:
        version = _version("zoo")
        for name, module in BUILTIN_PLUGINS.items():
            self.add_plugin(importlib.import_module(module), name, "zoo", version)

    def load_entry_points(self) -> None:
        """Import and register every installed ``zoo`` entry point, except those switched off
        by ``ZOO_PLUGINS`` (only these), ``ZOO_DISABLE_PLUGINS`` or ``zoo plugins disable``."""
        only, disabled = enabled_filter()
        seen: set[tuple[str, str]] = set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            # The same distribution can be visible twice on sys.path (e.g. editable + --target).
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            dist = getattr(ep, "dist", None)
            distribution = dist.metadata["Name"] if dist is not None else None
            version = dist.version if dist is not None else None
            if (only is not None and ep.name not in only) or ep.name in disabled:
                self._record(ep.name, distribution, version).status = "disabled"
                continue
            try:
                module: ModuleType = ep.load()
            except Exception as exc:
                self._fail(self._record(ep.name, distribution, version), exc)
                continue
            self.add_plugin(module, ep.name, distribution, version)

    def remove_plugin(self, name: str) -> None:
        """Forget a plugin and everything it registered."""
        self.plugins.pop(name, None)
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        for registry in self.registries.values():
            registry.remove_plugin(name)

    def use_config(self, path: Any, models: dict[str, Any]) -> None:
        """Register the declarative ``models:`` of the config file at ``path`` (replacing those
        of any other config file) as the plugin ``config``."""
        from .declarative import PLUGIN_NAME, ConfigModels

        self.remove_plugin(PLUGIN_NAME)
        if models:
            self.add_plugin(ConfigModels(path, models), PLUGIN_NAME, str(path))

    def failed(self) -> list[PluginInfo]:
        return [info for info in self.plugins.values() if info.status == "failed"]

    def add_commands(self, cli: Any) -> None:
        """Let plugins add commands to the ``zoo`` group; one that fails is skipped with a
        warning, and a plugin cannot replace a command zoo already has."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            before = dict(cli.commands)
            try:
                impl.function(cli=cli)
                taken = [n for n in before if cli.commands.get(n) is not before[n]]
                if taken:
                    cli.commands.update({n: before[n] for n in taken})
                    raise PluginError(f"it tried to replace the command(s) {', '.join(taken)}")
            except Exception as exc:
                for added in set(cli.commands) - set(before):
                    del cli.commands[added]
                info = self.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name)
                warnings.warn(
                    f"plugin '{info.name}' ({info.source}) could not add its commands: "
                    f"{type(exc).__name__}: {exc}",
                    PluginWarning,
                    stacklevel=2,
                )


USER_CONFIG = "config.yaml"


def user_config() -> dict[str, Any]:
    """``$ZOO_HOME/config.yaml``: the user's own settings (e.g. ``disabled_plugins``)."""
    import yaml

    from .data import zoo_home

    try:
        loaded = yaml.safe_load((zoo_home() / USER_CONFIG).read_text()) or {}
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise PluginError(f"cannot read {zoo_home() / USER_CONFIG}: {exc}") from exc
    return loaded if isinstance(loaded, dict) else {}


def set_disabled(name: str, disabled: bool) -> None:
    """Persist ``zoo plugins disable/enable NAME`` in the user config."""
    import yaml

    from . import cache
    from .data import zoo_home

    settings = user_config()
    names = set(settings.get("disabled_plugins") or [])
    names = names | {name} if disabled else names - {name}
    settings["disabled_plugins"] = sorted(names)
    path = zoo_home() / USER_CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    cache.write_atomic(path, yaml.safe_dump(settings, sort_keys=False).encode())


def enabled_filter() -> tuple[set[str] | None, set[str]]:
    """(only these entry points, or None for all; entry points switched off)."""
    only_text = os.environ.get("ZOO_PLUGINS")
    only = None if only_text is None else {n.strip() for n in only_text.split(",") if n.strip()}
    disabled = {n.strip() for n in os.environ.get("ZOO_DISABLE_PLUGINS", "").split(",")}
    disabled |= set(user_config().get("disabled_plugins") or [])
    return only, disabled - {""}


def build_zoo(
    plugins: Iterable[tuple[str, Any]] = (), *, entry_points: bool = True, builtins: bool = True
) -> Zoo:
    """A fresh :class:`Zoo`: the built-in plugins, the installed entry points, then ``plugins``
    given as ``(name, module_or_object)`` pairs."""
    zoo = Zoo()
    if builtins:
        zoo.load_builtins()
    if entry_points:
        zoo.load_entry_points()
    for name, plugin in plugins:
        zoo.add_plugin(plugin, name)
    notes = [
        f"plugin '{i.name}' ({i.source}) failed to load and may be the one providing it "
        "(zoo plugins says why)"
        for i in zoo.failed()
    ]
    notes += [
        f"plugin '{i.name}' is disabled (zoo plugins enable {i.name})"
        for i in zoo.plugins.values()
        if i.status == "disabled"
    ]
    for registry in zoo.registries.values():
        registry.notes = notes
    return zoo


def _plural(singular: str) -> str:
    return next(k for k, v in KINDS.items() if v == singular)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


__all__ = ["PluginInfo", "PluginWarning", "Zoo", "build_zoo", "ZooError"]
