"""The errors zoo raises. Only ``zoo.cli`` turns them into exit codes."""

from __future__ import annotations


class ZooError(Exception):
    """A mistake or a failure a user can act on; the CLI prints it as one line."""


class UnknownNameError(ZooError, LookupError):
    """A name that no plugin registered (the message suggests close matches)."""


class AmbiguousNameError(ZooError, LookupError):
    """A bare name that several plugins registered; use ``<plugin>:<name>``."""


class ConfigError(ZooError, ValueError):
    """A bad ``zoo.yaml``, ``--set`` override or option."""


class PluginError(ZooError):
    """A plugin that broke the rules of registration."""


class DataError(ZooError):
    """A dataset that could not be fetched, verified or read."""


class ZooWarning(UserWarning):
    """Something a user should know that stops nothing; the CLI prints it as one line."""


class DataWarning(ZooWarning):
    """Data loaded from a source no pin covers (it serves only the run that named it)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; the message says where its last complete checkpoint is and how to
    resume it."""
