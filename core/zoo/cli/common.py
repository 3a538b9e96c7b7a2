"""What the command modules share: the error-to-exit-code group, options, config resolution."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from .. import api, config
from ..errors import ConfigError, ZooError
from ..plugins import PluginWarning

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ZooGroup(click.Group):
    """Turns zoo's own errors into one clear line instead of a traceback, and adds the commands
    of plugins (``register_commands``) when a command is not one of zoo's own."""

    plugin_commands_added = False

    def _add_plugin_commands(self) -> None:
        if not self.plugin_commands_added:
            self.plugin_commands_added = True
            api.current().add_commands(self)

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
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("\nzoo: interrupted", err=True)
            ctx.exit(130)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Plugin warnings as one line; everything else as Python prints it."""
    if issubclass(category, PluginWarning):
        click.echo(f"zoo: warning: {message}", err=True)
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


def device_option(help: str) -> Any:
    return click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help=help)


def dataset_options(name: str, overrides: tuple[str, ...]) -> dict[str, Any]:
    """``--set url=...`` (or ``dataset.url=...``) for commands that take one dataset's options,
    checked against the dataset's factory."""
    options = {}
    for override in overrides:
        keys, value = config.parse_override(
            override if override.startswith("dataset.") else f"dataset.{override}"
        )
        if len(keys) != 2:
            raise ConfigError(f"--set {override}: expected a dataset option, e.g. url=...")
        options[keys[1]] = value
    api.get_dataset(name).check(options, where="dataset.")
    return options


def resolve(
    name: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run config for NAME: a run of the config file, or a registered model."""
    doc = config.load(config.find_config(config_file))
    api.current().use_config(doc["path"], doc["models"])  # the models of the file in use
    models = api.current().registries["models"]
    return config.resolve(
        doc,
        name,
        is_model=models.__contains__,
        models=models.names(),
        overrides=overrides,
        options=options,
    )


class Bar:
    """A tqdm progress bar on stderr with live postfix values. The commands make none when
    stderr is not a terminal or with --no-progress (no control characters in logs, and no
    running loss computed for nobody)."""

    def __init__(self, total: int, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            desc=f"  {label}",
            leave=False,
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {n}/{total} {postfix}",
        )
        self.n = 0

    def update(self, n: int, **postfix: Any) -> None:
        self.n += n
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(n)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()


run_dir_argument = click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
