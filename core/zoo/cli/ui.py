"""``zoo ui``: the catalog, the runs and trying a model, in a browser (the ``ui`` extra)."""

from __future__ import annotations

import functools

import click

from .common import echo


@click.command()
@click.argument("folder", default=".", metavar="[FOLDER]")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=int,
    help="The port to serve on (0: any free one; the URL is printed).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on: this machine only unless you say otherwise (then a warning).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Another name browsers may call this server by (beside its address and the machine's "
    "names); repeatable. Other names are refused, so a page elsewhere cannot rename itself in.",
)
def ui(folder: str, port: int, host: str, allow_hosts: tuple[str, ...]) -> None:
    """A local web page: the catalog and the results table, the runs under FOLDER (default:
    here) with their curves updating as they train, and any weights to try on a digit you
    draw or a picture you drop. Needs: pip install 'torch-zoo[ui]'."""
    from ..ui import serve

    serve(
        folder,
        host,
        port,
        say=echo,
        warn=functools.partial(echo, err=True),
        allow_hosts=allow_hosts,
    )
