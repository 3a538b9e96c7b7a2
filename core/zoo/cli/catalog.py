"""``zoo list``, ``zoo show`` and ``zoo plugins``: what zoo knows. None of them imports torch."""

from __future__ import annotations

import fnmatch
from typing import Any

import click

from .. import api, config
from ..errors import PluginError, UnknownNameError
from ..hints import did_you_mean
from ..plugins.manager import installed_plugins
from ..plugins.registry import KINDS
from ..plugins.settings import set_disabled
from ..text import printable
from .common import config_option, echo, set_option

LIST_KINDS = (*KINDS, "runs")


@click.command(name="list")
@click.argument("kind_or_pattern", required=False, metavar="[KIND]")
@click.argument("pattern", required=False)
@click.option(
    "--sort",
    default="dataset",
    show_default=True,
    metavar="COLUMN",
    help="zoo list weights: the column to sort by (test_acc best first; test_loss, parameters, "
    "flops, train_seconds lowest first; names A-Z)",
)
@click.option("--reverse", is_flag=True, help="zoo list weights: sorted the other way round")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(api.FORMATS),
    default="text",
    show_default=True,
    help="zoo list weights: the table as text, Markdown, CSV or JSON",
)
@config_option
def list_(
    kind_or_pattern: str | None,
    pattern: str | None,
    sort: str,
    reverse: bool,
    fmt: str,
    config_file: str | None,
) -> None:
    """List what zoo knows: KIND is models, datasets, optimizers, layers, schedulers, losses,
    metrics, callbacks, transforms, weights or runs (default: all).

    PATTERN filters names with shell-style wildcards, e.g. zoo list models '*cnn*'. zoo list
    weights prints the results table: each entry's dataset, test accuracy and loss, parameters,
    FLOPs of one forward pass, training time and hardware (--sort, --format).
    """
    if kind_or_pattern == "weights":
        rows = api.results(pattern, sort=sort, reverse=reverse)
        if not rows and fmt == "text":
            echo(f"no usable weights match '{pattern}' (zoo list weights shows them all)")
            return
        echo(api.format_results(rows, fmt))
        return
    if kind_or_pattern in LIST_KINDS:
        kinds: tuple[str, ...] = (kind_or_pattern,)
    elif pattern is None:  # `zoo list '*cnn*'`: a pattern over every kind
        kinds, pattern = LIST_KINDS, kind_or_pattern
    else:
        hint = did_you_mean(kind_or_pattern, LIST_KINDS)
        raise click.UsageError(
            f"unknown kind '{kind_or_pattern}'{hint} (expected one of {', '.join(LIST_KINDS)})"
        )
    doc = config.load(config.find_config(config_file))
    if config_file is not None:  # its models, instead of those of the file found from here
        api.current().use_config(doc["path"], doc["models"])
    shown = []
    for kind in kinds:
        if kind == "runs":
            rows = [
                (name, run.get("description", ""), doc["sources"][f"runs.{name}"])
                for name, run in sorted(doc["runs"].items())
                if pattern is None or fnmatch.fnmatchcase(name, pattern)
            ]
        else:
            rows = [(e.name, e.description, e.plugin) for e in api.listing(kind, pattern)]
        if len(kinds) > 1 and not rows:
            continue
        width = max((len(r[0]) for r in rows), default=0)
        source_width = max((len(r[2]) for r in rows), default=0)
        shown.append(f"{kind} ({len(rows)})")
        shown += [f"  {n.ljust(width)}  {s.ljust(source_width)}  {d}".rstrip() for n, d, s in rows]
    if not shown:
        echo(f"nothing matches '{pattern}' (zoo list shows everything zoo knows)")
        return
    echo("\n".join(shown))  # one write: 10,000 names print as fast as 30


@click.command()
@click.argument("name")
@config_option
@set_option
def show(name: str, config_file: str | None, overrides: tuple[str, ...]) -> None:
    """Print the fully resolved config of run NAME as YAML (what `zoo run NAME` would use), or
    the card of trained weights NAME (zoo show cnn.mnist)."""
    doc = config.load(config.find_config(config_file))
    is_weights = _known("weights", name) and not _known("models", name)
    if is_weights and name not in doc["runs"]:
        if overrides:
            raise click.UsageError("--set changes a run's config; weights have none to change")
        echo(_card_text(api.get_weights(name), api.get("weights", name)))
        return
    try:
        cfg = api.resolve(name, config=config_file, overrides=overrides)
    except UnknownNameError as exc:
        hint = did_you_mean(name, api.list_weights())
        if not hint:
            raise
        raise UnknownNameError(f"{exc}; weights{hint}") from None
    echo(config.dump_yaml(cfg.to_dict()).rstrip())
    by_source: dict[str, list[str]] = {}
    for key, source in config.origins(doc, cfg.to_dict(), overrides).items():
        by_source.setdefault(source, []).append(key)
    for source, keys in by_source.items():
        echo(f"# from {source}: {', '.join(keys)}")
    for where, part in cfg.parts():
        section = where.split("[")[0].rstrip(".")
        entry = api.get(config.REGISTRY[section], part.name)
        takes = ", ".join(entry.option_text(k) for k in entry.user_options())
        shown = where.rstrip(".")
        echo(f"# {shown} '{entry.name}' ({entry.plugin}) options: {takes or 'none'}")


@click.group(invoke_without_command=True)
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """Installed plugins: entry point, distribution, version, status and what each registered.

    \b
      zoo plugins disable NAME    skip an installed plugin (kept in $ZOO_HOME/config.yaml)
      zoo plugins enable NAME     load it again
    ZOO_PLUGINS=a,b loads only those; ZOO_DISABLE_PLUGINS=a,b skips those.
    """
    if ctx.invoked_subcommand is not None:
        return
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
        echo(f"{info.name:<{width}}  {info.source:<{source_width}}  {info.status:<8}  {what}")


@plugins.command()
@click.argument("name")
def disable(name: str) -> None:
    """Stop loading the installed plugin NAME (until zoo plugins enable NAME)."""
    _entry_point(name)
    path = set_disabled(name, True)
    echo(f"disabled plugin '{name}' (in {path})")


@plugins.command()
@click.argument("name")
def enable(name: str) -> None:
    """Load the installed plugin NAME again."""
    _entry_point(name)
    set_disabled(name, False)
    echo(f"enabled plugin '{name}'")


def _known(kind: str, name: str) -> bool:
    try:
        api.get(kind, name)
    except LookupError:
        return False
    return True


def _entry_point(name: str) -> None:
    names = installed_plugins()
    if name not in names:
        hint = did_you_mean(name, names)
        raise PluginError(f"no installed plugin '{name}'{hint} (installed: {', '.join(names)})")


def _cost(card: Any) -> str:
    """``70,330 parameters, 11.1 MFLOPs a forward pass; trained in 8m 20s on CPU X``."""
    parts = []
    if card.parameters is not None:
        parts.append(f"{card.parameters:,} parameters")
    if card.flops is not None:
        parts.append(f"{card.flops / 1e6:,.2f} MFLOPs per forward pass of one sample")
    text = ", ".join(parts) or "not recorded"
    if card.train_seconds is not None:
        minutes, seconds = divmod(round(card.train_seconds), 60)
        text += f"; trained in {minutes}m {seconds:02d}s"
        if card.hardware:
            text += f" on {printable(card.hardware)}"
    return text


def _card_text(card: Any, entry: Any) -> str:
    """The card of trained weights as ``zoo show`` prints it."""
    metrics = card.metrics

    def pair(split: str) -> str:
        loss, acc = metrics.get(f"{split}_loss"), metrics.get(f"{split}_acc")
        if loss is None or acc is None:
            return f"{split} not measured"
        return f"{split} loss {loss:.4f}, accuracy {acc:.2%}"

    options = ", ".join(f"{k}={v!r}" for k, v in card.options.items()) or "its defaults"
    classes = card.dataset.get("classes") or []
    shown_classes = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
    recipe = card.recipe
    versions = recipe.get("versions") or {}
    plugin = api.current().plugins.get(entry.plugin)
    source = f"plugin '{entry.plugin}'" + (f" ({plugin.source})" if plugin is not None else "")
    lines = [
        f"{card.name}: {card.summary()}",
        f"  model      {card.model} ({options})",
        f"  dataset    {card.dataset['name']}: {card.dataset['num_classes']} classes"
        + (f" ({shown_classes})" if shown_classes else "")
        + f", input {'x'.join(map(str, card.input_shape))}",
        f"  metrics    epoch {metrics.get('epoch', '?')}: {pair('val')}; {pair('test')}",
        f"  cost       {_cost(card)}",
        f"  file       {card.where}",
        f"  size       {card.size:,} bytes, sha256 {card.sha256}",
        f"  source     {source}",
        f"  recipe     seed {recipe.get('seed', '?')}, {recipe.get('epochs', '?')} epochs on "
        f"{recipe.get('device', '?')} ({recipe.get('threads', '?')} threads, "
        f"{recipe.get('world_size', 1)} process); "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"  again      zoo reproduce {card.name}",
    ]
    if recipe.get("config"):
        lines.append("# the recipe's run config:")
        lines.append(config.dump_yaml(dict(recipe["config"])).rstrip())
    return "\n".join(lines)
