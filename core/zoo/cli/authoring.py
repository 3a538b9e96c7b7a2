"""``zoo new-plugin``: start a plugin distribution, or publish a run's trained weights as one."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..plugins.registry import plural
from ..scaffold import PLUGIN_KINDS
from .common import data_option, echo


@click.command(name="new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write it (default: ./zoo-NAME).",
)
@click.option(
    "--from-run",
    "run_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Publish this run's best weights and their card (registered as MODEL.TAG).",
)
@click.option("--tag", help="With --from-run: the TAG of MODEL.TAG (default: the run's dataset).")
@click.option(
    "--kind",
    type=click.Choice(PLUGIN_KINDS),
    default="model",
    show_default=True,
    help="What the plugin registers (a working, tested example to start from).",
)
@data_option
def new_plugin(
    name: str,
    folder: str | None,
    run_dir: str | None,
    tag: str | None,
    kind: str,
    overrides: tuple[str, ...],
) -> None:
    """Write a ready plugin distribution zoo-NAME: a model (or --kind dataset, optimizer,
    scheduler, callback) NAME to start from, or with
    --from-run RUN_DIR the run's best weights with their card (metrics measured on the test
    split, recipe, sha256), so that pip install ./zoo-NAME makes them appear in zoo list weights."""
    from ..scaffold import new_plugin as scaffold

    where = Path(folder) if folder else None
    if run_dir is None:
        if tag or overrides:
            raise click.UsageError("--tag and --set go with --from-run RUN_DIR")
        path = scaffold(name, where, kind=kind)
        echo(f"wrote {path}/: pyproject.toml, zoo_{name}/__init__.py, tests/, README.md")
        echo(f"  pip install -e {_local(path)}        then  zoo list {plural(kind)}  shows {name}")
        echo(f"  cd {path} && python -m pytest")
        return
    published = api.publish(run_dir, name, folder=where, tag=tag, overrides=overrides)
    path, weights, test = published.folder, published.weights, published.test
    measured = f"test accuracy {test['acc']:.2%}" if test else "no test split to measure"
    echo(f"wrote {path}/ with the weights {weights} ({measured}) and their card")
    if published.seeds > 1:
        over = published.over_seeds
        spread = f": test accuracy {over[0]:.2%} ± {over[1]:.2%} ({over[2]})" if over else ""
        echo(f"  the card carries every seed's results ({published.seeds} seeds{spread}); the "
             f"weights are {published.run.name}'s, the seed with the best validation "
             "result")  # fmt: skip
    echo(f"  pip install {_local(path)}        then  zoo list weights  shows {weights}")


def _local(path: Path) -> str:
    """A folder as pip takes it for a local project (a bare name would be looked up on PyPI)."""
    return str(path) if path.is_absolute() or str(path).startswith(".") else f"./{path}"
