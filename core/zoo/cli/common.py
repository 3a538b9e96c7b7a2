"""What the command modules share: the group that turns errors into exit codes and adds plugins'
commands, the common options, and reading ``--set`` for one dataset."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from .. import api
from ..config import DEVICES, parse_overrides
from ..errors import ConfigError, PluginError, ZooError, ZooWarning
from ..plugins.manager import PluginWarning
from ..text import printable, terminal

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def echo(message: Any = "", err: bool = False) -> None:
    """Print a line of a command's output: every command prints through here, so a name from a
    shared run folder or a plugin cannot send the terminal escape sequences (``zoo.text``)."""
    click.echo(terminal(message), err=err)


class ZooGroup(click.Group):
    """Turns zoo's own errors into one clear line instead of a traceback, and adds the commands
    of plugins (``register_commands``) when a command is not one of zoo's own."""

    plugin_commands_added = False

    def _add_plugin_commands(self) -> None:
        if not self.plugin_commands_added:
            self.plugin_commands_added = True
            add_plugin_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            if os.environ.get("ZOO_DEBUG") == "1":
                raise
            # a message may quote a hostile value: each line printed safely (no escape codes)
            text = "\n".join(printable(line, limit=2000) for line in str(exc).split("\n"))
            raise click.ClickException(text) from exc
        except OSError as exc:  # a full disk, a read-only folder: the machine's, not a bug's
            if os.environ.get("ZOO_DEBUG") == "1":
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from exc
        except KeyboardInterrupt as exc:  # zoo.Interrupted says how to resume the run
            echo(f"\n{exc}" if str(exc) else "\nzoo: interrupted", err=True)
            ctx.exit(130)


def add_plugin_commands(group: click.Group) -> None:
    """Let each plugin add commands through its ``register_commands`` hook; one that fails is
    skipped with a warning, and none may replace a command zoo already has."""
    catalog = api.current()
    for name in catalog.implementing("register_commands"):
        before = dict(group.commands)
        try:
            catalog.hook_of(catalog.pm.get_plugin(name), "register_commands")(cli=group)
            taken = [n for n in before if group.commands.get(n) is not before[n]]
            if taken:
                group.commands.update({n: before[n] for n in taken})
                raise PluginError(f"it tried to replace the command(s) {', '.join(taken)}")
        except (Exception, SystemExit) as exc:
            for added in set(group.commands) - set(before):
                del group.commands[added]
            info = catalog.plugins.get(name)
            source = info.source if info is not None else "(not installed)"
            warnings.warn(
                f"plugin '{name}' ({source}) could not add its commands: "
                f"{type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=2,
            )


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """zoo's warnings (a plugin skipped, unpinned data) as one line; everything else as Python
    prints it."""
    if issubclass(category, ZooWarning):
        echo(f"zoo: warning: {printable(message, limit=2000)}", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning

config_option = click.option(
    "--config",
    "config_file",
    metavar="FILE",
    help="Config file (default: $ZOO_CONFIG, ./zoo.yaml or a parent's, then zoo's own).",
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. --set optimizer.lr=0.1 (the value is YAML). Repeatable.",
)
progress_option = click.option("--no-progress", is_flag=True, help="No progress bars.")
run_dir_argument = click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
#: Trained weights: a run directory, or registered weights such as cnn.mnist.
source_argument = click.argument("source", metavar="RUN_DIR|WEIGHTS")
data_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="dataset.KEY=VALUE",
    help="Where the data is here, e.g. --set dataset.path=~/mnist (dataset options only).",
)


def device_option(help: str) -> Any:
    return click.option("--device", type=click.Choice(DEVICES), help=help)


def out_option(help: str, *, folder: bool | None = False, default: str | None = None) -> Any:
    """``--out``: the folder (``folder``), the file (not ``folder``) or either (``None``: the
    command checks which its format needs) a command writes."""
    kinds = {True: click.Path(file_okay=False), False: click.Path(dir_okay=False)}
    return click.option(
        "--out",
        type=kinds.get(folder, click.Path()),
        default=default,
        show_default=default is not None,
        metavar={True: "DIR", False: "FILE"}.get(folder, "PATH"),
        help=help,
    )


def nproc_option(help: str, default: int | None = None) -> Any:
    """``--nproc-per-node N``: how many processes train (torch.distributed, through torchrun)."""
    return click.option(
        "--nproc-per-node",
        type=click.IntRange(min=1),
        default=default,
        show_default=default is not None,
        help=help,
    )


def bars(no_progress: bool) -> bool:
    """Live progress bars: where someone watches stderr, unless --no-progress."""
    return not no_progress and sys.stderr.isatty()


def dataset_options(name: str, overrides: tuple[str, ...]) -> dict[str, Any]:
    """``--set url=...`` (or ``dataset.url=...``) for commands that take one dataset's options,
    checked against the dataset's factory."""
    options = {}
    prefixed = [o if o.startswith("dataset.") else f"dataset.{o}" for o in overrides]
    for (keys, value), override in zip(parse_overrides(prefixed), overrides, strict=True):
        if len(keys) != 2:
            raise ConfigError(f"--set {override}: expected a dataset option, e.g. url=...")
        options[keys[1]] = value
    api.get_dataset(name).check(options, where="dataset.")
    return options
