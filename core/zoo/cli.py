"""The ``zoo`` command. The only place where errors become exit codes: a :class:`ZooError` is
printed as one line (``ZOO_DEBUG=1`` shows the traceback) and exits with status 1.

Nothing imported at the top of this module imports torch: ``zoo --help``, ``zoo list`` and
``zoo plugins`` stay fast. Training imports it when it starts.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from . import api, config
from .errors import ZooError
from .plugins import PluginWarning
from .registry import KINDS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ZooGroup(click.Group):
    """Turns zoo's own errors into one clear line instead of a traceback."""

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


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, PluginWarning):
        click.echo(f"zoo: warning: {message}", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


@click.group(cls=ZooGroup, context_settings=CONTEXT)
@click.version_option(package_name="zoo", prog_name="zoo")
def cli() -> None:
    """zoo: a plugin-based model zoo for PyTorch.

    \b
      zoo run logistic          train the seed's logistic regression on MNIST
      zoo list                  every model, dataset, optimizer, layer and run
      zoo show cnn              the resolved config of a run, as YAML
      zoo plugins               installed plugins and what each registered
    """


def main() -> None:
    warnings.showwarning = _show_warning
    cli(prog_name="zoo")


# --- zoo run -------------------------------------------------------------------------------


def _resolve(
    name: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc = config.load(config.find_config(config_file))
    models = api.current().registries["models"]
    return config.resolve(
        doc,
        name,
        is_model=models.__contains__,
        models=models.names(),
        overrides=overrides,
        options=options,
    )


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


@cli.command()
@click.argument("name")
@config_option
@set_option
@click.option("--epochs", type=click.IntRange(min=1), help="Number of epochs.")
@click.option("--seed", type=int, help="Random seed (same seed, same device: same numbers).")
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda", "mps"]),
    help="Where to train (auto: cuda, then mps, then cpu).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Run directory (default: runs/NAME/YYYYmmdd-HHMMSS).",
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def run(
    name: str,
    config_file: str | None,
    overrides: tuple[str, ...],
    epochs: int | None,
    seed: int | None,
    device: str | None,
    out: str | None,
    no_progress: bool,
) -> None:
    """Train NAME: a run from zoo.yaml, or any registered model with the defaults."""
    from . import run as runner

    cfg = _resolve(name, config_file, overrides, {"epochs": epochs, "seed": seed, "device": device})
    runner.check_options(cfg)
    click.echo(f"zoo run {name}: {_summary(cfg)}")
    if out is not None:
        runner.check_out(out)  # a taken --out fails before any download
    prepared = runner.prepare(cfg)
    click.echo(f"  {prepared.summary()}")
    run_dir = runner.make_run_dir(name, out)
    click.echo(f"  writing {run_dir}")

    def progress(total: int, label: str) -> Any:
        return click.progressbar(
            length=total, label=f"  {label}", file=sys.stderr, hidden=no_progress
        )

    header = f"  {'epoch':>5}  {'train_loss':>10}  {'val_loss':>8}  {'val_acc':>7}  {'seconds':>7}"
    rows: list[dict[str, Any]] = []

    def on_epoch(row: dict[str, Any]) -> None:
        if not rows:
            click.echo(header)
        rows.append(row)
        click.echo(
            f"  {row['epoch']:>5}  {row['train_loss']:>10.4f}  {row['val_loss']:>8.4f}  "
            f"{row['val_acc']:>7.2%}  {row['epoch_seconds']:>7.1f}"
        )

    history = runner.execute(prepared, run_dir, on_epoch=on_epoch, progress=progress)
    best = min(history, key=lambda r: r["val_loss"])
    click.echo(
        f"best val_loss {best['val_loss']:.4f} (epoch {best['epoch']}), "
        f"val_acc {best['val_acc']:.2%}; metrics in {run_dir / 'metrics.jsonl'}"
    )


def _summary(cfg: dict[str, Any]) -> str:
    def section(key: str) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in cfg[key].items() if k != "name")
        return f"{cfg[key]['name']}({opts})" if opts else cfg[key]["name"]

    shuffled = "shuffled" if cfg.get("shuffle", True) else "in order"
    return (
        f"model {section('model')}, dataset {section('dataset')}, optimizer "
        f"{section('optimizer')}, {cfg['epochs']} epochs, batch {cfg['batch_size']} "
        f"{shuffled}, seed {cfg.get('seed', 0)}"
    )


from .data_commands import data  # noqa: E402 (a command group of its own module)

cli.add_command(data)


# --- zoo list / show / plugins ---------------------------------------------------------------

LIST_KINDS = (*KINDS, "runs")


@cli.command(name="list")
@click.argument("kind_or_pattern", required=False, metavar="[KIND]")
@click.argument("pattern", required=False)
@config_option
def list_(kind_or_pattern: str | None, pattern: str | None, config_file: str | None) -> None:
    """List what zoo knows: KIND is models, datasets, optimizers, layers or runs (default: all).

    PATTERN filters names with shell-style wildcards, e.g. zoo list models '*cnn*'.
    """
    if kind_or_pattern in LIST_KINDS:
        kinds: tuple[str, ...] = (kind_or_pattern,)
    elif pattern is None:  # `zoo list '*cnn*'`: a pattern over every kind
        kinds, pattern = LIST_KINDS, kind_or_pattern
    else:
        raise click.UsageError(
            f"unknown kind '{kind_or_pattern}' (expected one of {', '.join(LIST_KINDS)})"
        )
    import fnmatch

    for kind in kinds:
        if kind == "runs":
            doc = config.load(config.find_config(config_file))
            rows = [
                (name, run.get("description", ""), doc["path"].name)
                for name, run in sorted(doc["runs"].items())
                if pattern is None or fnmatch.fnmatchcase(name, pattern)
            ]
        else:
            registry = api.current().registries[kind]
            rows = [
                (registry.display_name(e), e.description, e.plugin)
                for e in registry.entries()
                if pattern is None or registry.display_name(e) in registry.names(pattern)
            ]
        if len(kinds) > 1 and not rows:
            continue
        click.echo(f"{kind} ({len(rows)})")
        width = max((len(r[0]) for r in rows), default=0)
        source_width = max((len(r[2]) for r in rows), default=0)
        for name, description, source in rows:
            click.echo(f"  {name:<{width}}  {source:<{source_width}}  {description}")


@cli.command()
@click.argument("name")
@config_option
@set_option
def show(name: str, config_file: str | None, overrides: tuple[str, ...]) -> None:
    """Print the fully resolved config of run NAME as YAML (what `zoo run NAME` would use)."""
    import yaml

    from .run import check_options

    cfg = _resolve(name, config_file, overrides)
    check_options(cfg)
    click.echo(yaml.safe_dump(cfg, sort_keys=False, width=1000).rstrip())
    for section in config.SECTIONS:
        entry = getattr(api, f"get_{section}")(cfg[section]["name"])
        takes = ", ".join(f"{k}={_default(v)}" for k, v in entry.options().items() if k != "params")
        click.echo(f"# {section} '{entry.name}' ({entry.plugin}) options: {takes or 'none'}")


def _default(value: Any) -> str:
    import inspect

    return "required" if value is inspect.Parameter.empty else repr(value)


@cli.command()
def plugins() -> None:
    """List installed plugins: entry point, distribution, version and what each registered."""
    infos = api.list_plugins()
    width = max((len(i.name) for i in infos), default=0)
    source_width = max((len(i.source) for i in infos), default=0)
    for info in infos:
        if info.status == "loaded":
            what = (
                "; ".join(
                    f"{kind}: {', '.join(sorted(names))}" for kind, names in info.registered.items()
                )
                or "nothing registered"
            )
        else:
            what = info.error or ""
        click.echo(f"{info.name:<{width}}  {info.source:<{source_width}}  {info.status:<6}  {what}")
