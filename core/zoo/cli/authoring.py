"""``zoo new-plugin``: start a plugin distribution."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write it (default: ./zoo-NAME).",
)
def new_plugin(name: str, folder: str | None) -> None:
    """Write a ready plugin distribution zoo-NAME that registers the model NAME."""
    from ..scaffold import new_plugin as scaffold

    path = scaffold(name, Path(folder) if folder else None)
    click.echo(f"wrote {path}/: pyproject.toml, zoo_{name}/__init__.py, tests/, README.md")
    click.echo(f"  pip install -e {path}        then  zoo list models  shows {name}")
    click.echo(f"  cd {path} && python -m pytest")
