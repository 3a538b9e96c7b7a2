"""``zoo data``: what is in the cache, fetching a dataset without training, verifying, removing."""

from __future__ import annotations

import click

from .. import api
from ..data import sharing
from ..files import zoo_home
from .common import dataset_options, echo


@click.group()
def data() -> None:
    """Datasets in the cache ($ZOO_HOME/datasets): list, fetch, verify, rm."""


@data.command(name="list")
def list_() -> None:
    """Every cached file: dataset, size, sha256 and where it came from."""
    rows = api.cached_files()
    if not rows:
        echo(f"nothing cached in {zoo_home() / 'datasets'}")
        return
    name_width = max(len(f"{r.dataset}/{r.path.name}") for r in rows)
    for row in rows:
        digest = row.sha256[:16] if row.sha256 else "(unrecorded)"
        name = f"{row.dataset}/{row.path.name}"
        echo(f"{name:<{name_width}}  {_size(row.size):>9}  {digest:<16}  {row.source}")


@data.command()
@click.argument("name")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="A dataset option, e.g. --set url=http://mirror/ (or dataset.url=...).",
)
def fetch(name: str, overrides: tuple[str, ...]) -> None:
    """Download and verify dataset NAME (and prepare its fast copy) without training. A copy
    fetched from a URL you name here becomes NAME's copy for every later load that names none."""
    options = dataset_options(name, overrides)
    with sharing():  # the user named this URL for the cache: it may serve every run
        splits = api.create_dataset(name, **options)
    sizes = ", ".join(
        f"{len(s):,} {what}"
        for what, s in (("train", splits.train), ("valid", splits.valid), ("test", splits.test))
        if s is not None
    )
    echo(f"{name}: {sizes}")


@data.command()
@click.argument("name", required=False)
def verify(name: str | None) -> None:
    """Re-hash every cached file (or NAME's) against its recorded sha256."""
    rows = api.cached_files(name, verify=True)
    for row in rows:
        state = "ok" if row.ok else ("unrecorded" if row.sha256 is None else "CHANGED")
        echo(f"{state:<10}  {row.dataset}/{row.path.name}")
    bad = sum(not row.ok for row in rows)
    if bad:
        raise click.ClickException(
            f"{bad} cached file(s) do not match their record: "
            "they will be fetched again on next use (or zoo data rm)"
        )


@data.command()
@click.argument("name")
def rm(name: str) -> None:
    """Remove everything cached for dataset NAME."""
    folder, freed = api.remove_cached(name)
    echo(f"removed {folder} ({_size(freed)})")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
