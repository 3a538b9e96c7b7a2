"""``zoo data``: what is in the cache, fetching a dataset without training, verifying, removing."""

from __future__ import annotations

import shutil

import click

from .. import api
from ..data import cache
from ..errors import ConfigError
from ..hints import did_you_mean
from .common import dataset_options


@click.group()
def data() -> None:
    """Datasets in the cache ($ZOO_HOME/datasets): list, fetch, verify, rm."""


@data.command(name="list")
def list_() -> None:
    """Every cached file: dataset, size, sha256 and where it came from."""
    rows = cache.entries()
    if not rows:
        click.echo(f"nothing cached in {cache.dataset_dir('').parent}")
        return
    name_width = max(len(f"{d}/{p.name}") for d, p, _ in rows)
    for dataset, path, record in rows:
        size = _size(path.stat().st_size)
        digest = record.sha256[:16] if record else "(unrecorded)"
        source = record.source if record else ""
        click.echo(f"{dataset + '/' + path.name:<{name_width}}  {size:>9}  {digest:<16}  {source}")


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
    with cache.sharing():  # the user named this URL for the cache: it may serve every run
        splits = api.create_dataset(name, **options)
    sizes = ", ".join(
        f"{len(s):,} {what}"
        for what, s in (("train", splits.train), ("valid", splits.valid), ("test", splits.test))
        if s is not None
    )
    click.echo(f"{name}: {sizes}")


@data.command()
@click.argument("name", required=False)
def verify(name: str | None) -> None:
    """Re-hash every cached file (or NAME's) against its recorded sha256."""
    rows = [(d, p, r) for d, p, r in cache.entries() if name is None or d == name]
    if name is not None and not rows:
        raise ConfigError(_nothing_cached(name))
    bad = 0
    for dataset, path, record in rows:
        ok = record is not None and cache.check(path) is not None
        bad += not ok
        state = "ok" if ok else ("unrecorded" if record is None else "CHANGED")
        click.echo(f"{state:<10}  {dataset}/{path.name}")
    if bad:
        raise click.ClickException(
            f"{bad} cached file(s) do not match their record: "
            "they will be fetched again on next use (or zoo data rm)"
        )


@data.command()
@click.argument("name")
def rm(name: str) -> None:
    """Remove everything cached for dataset NAME."""
    folder = cache.dataset_dir(name)
    if not name or "/" in name or name.startswith(".") or not folder.is_dir():
        raise ConfigError(_nothing_cached(name))
    freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise ConfigError(f"cannot remove {folder}: {exc.strerror or exc}") from exc
    click.echo(f"removed {folder} ({_size(freed)})")


def _nothing_cached(name: str) -> str:
    hint = did_you_mean(name, {dataset for dataset, _, _ in cache.entries()})
    return f"nothing cached for '{name}'{hint} (zoo data list shows what is)"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
