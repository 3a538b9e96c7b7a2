"""Which installed plugins to load: ``ZOO_PLUGINS`` (only these), ``ZOO_DISABLE_PLUGINS`` and
the user's own settings file, ``$ZOO_HOME/config.yaml`` (``zoo plugins disable NAME``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import PluginError
from ..files import write_atomic, zoo_home

USER_CONFIG = "config.yaml"


def settings_file() -> Path:
    return zoo_home() / USER_CONFIG


def user_settings() -> dict[str, Any]:
    """``$ZOO_HOME/config.yaml``: the user's own settings (e.g. ``disabled_plugins``)."""
    import yaml

    try:
        loaded = yaml.safe_load(settings_file().read_text()) or {}
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise PluginError(f"cannot read {settings_file()}: {exc}") from exc
    return loaded if isinstance(loaded, dict) else {}


def set_disabled(name: str, disabled: bool) -> Path:
    """Persist ``zoo plugins disable/enable NAME``; returns the settings file."""
    import yaml

    settings = user_settings()
    names = set(settings.get("disabled_plugins") or [])
    names = names | {name} if disabled else names - {name}
    settings["disabled_plugins"] = sorted(names)
    path = settings_file()
    try:
        write_atomic(path, yaml.safe_dump(settings, sort_keys=False).encode())
    except OSError as exc:
        raise PluginError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def blocked(installed: set[str]) -> set[str]:
    """The installed entry points not to load: outside ``ZOO_PLUGINS`` when it is set, named in
    ``ZOO_DISABLE_PLUGINS``, or disabled in the user's settings."""
    only_text = os.environ.get("ZOO_PLUGINS")
    names = {n.strip() for n in os.environ.get("ZOO_DISABLE_PLUGINS", "").split(",")}
    names |= set(user_settings().get("disabled_plugins") or [])
    if only_text is not None:
        names |= installed - {n.strip() for n in only_text.split(",")}
    return (names & installed) - {""}
