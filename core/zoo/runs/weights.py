"""Registered trained weights in use: the card's file found (in the plugin's package, or
downloaded once into ``$ZOO_HOME/weights``) and its sha256 checked before anything reads it; a
name or a run directory resolved to :class:`~zoo.runs.trained.Trained` weights; and a run's best
weights written out as a card and its file, to ship in a plugin.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..data.cache import sha256_of
from ..errors import ConfigError, UnknownNameError, ZooError
from ..files import atomic, check_name, zoo_home
from ..hints import did_you_mean
from ..plugins.cards import FORMAT, Card, CardError
from ..plugins.registry import Registry
from ..text import is_plain, shown
from . import hub
from .rundir import RunDir
from .trained import Trained

#: Dataset options that say where the data was on the machine that trained: not part of a recipe.
LOCAL_OPTIONS = ("path", "cache_dir", "system_dir", "progress", "offline")


#: The seconds a weights download may take, retries included (as a dataset's by default).
DEADLINE = 600.0


def verified_file(
    card: Card, offline: bool | None = None, progress: bool = False, models: Registry | None = None
) -> Path:
    """The card's weights file, its size and sha256 checked against the card (a file that fails
    is refused and never loaded). Weights given by URL are downloaded once into
    ``$ZOO_HOME/weights``, bounded by the card's size (which, given the ``models`` registry, must
    be what the card's model with its options can hold) and by :data:`DEADLINE`."""
    where = f"weights '{card.name}'"
    if card.file is not None:
        path = card.file
        if not path.is_file():
            raise CardError(f"{where}: its file {path} is missing (reinstall the plugin)")
    else:
        from ..data.download import fetch

        if models is not None:
            _check_claimed_size(card, models)
        problems = []
        for url in card.urls:
            try:
                path = fetch(
                    url,
                    zoo_home() / "weights" / card.sha256[:16],
                    sha256=card.sha256,
                    progress=progress,
                    offline=offline,
                    max_bytes=card.size,
                    deadline=DEADLINE,
                    limit_names=("the size its card gives", f"zoo's {DEADLINE:g} s for weights"),
                )
                break
            except ZooError as exc:
                problems.append(str(exc))
        else:
            raise CardError(f"{where}: could not get its file: {'; '.join(problems)}")
    try:
        size = path.stat().st_size
        digest = sha256_of(path) if size == card.size else None
    except OSError as exc:
        raise CardError(f"{where}: cannot read {path}: {exc.strerror or exc}") from exc
    if size != card.size:
        raise CardError(
            f"{where}: {path} has {size:,} bytes, its card says {card.size:,}: the file is "
            "truncated or replaced, and was not loaded (reinstall the plugin)"
        )
    if digest != card.sha256:
        raise CardError(
            f"{where}: {path} has sha256 {digest[:12]}..., its card pins {card.sha256[:12]}...: "
            "the file was changed, and was not loaded (reinstall the plugin)"
        )
    return path


def _check_claimed_size(card: Card, models: Registry) -> int:
    """Before downloading: a card that says its file is far larger than its model with its
    options can hold (built without memory) is refused, so no one can fill a disk with it.
    Returns the bytes the file may have (the card's size, checked)."""
    from .trained import model_context, size_of, skeleton

    entry = models.get(card.model)
    entry.check(dict(card.options), where=f"weights '{card.name}': model.")
    context = model_context(card.dataset["num_classes"], card.input_shape)
    meta = skeleton(entry, context, dict(card.options))
    if meta is not None and card.size > 2 * size_of(meta) + (1 << 20):
        raise CardError(
            f"weights '{card.name}': its card says the file has {card.size:,} bytes, but model "
            f"'{card.model}' with its options holds {size_of(meta):,}: not downloaded"
        )
    return card.size


def from_card(
    card: Card,
    offline: bool | None = None,
    progress: bool = False,
    models: Registry | None = None,
    label: str | None = None,
) -> Trained:
    """The card's weights, verified, as :class:`Trained` (see :func:`verified_file`)."""
    return Trained(
        label=label or f"weights '{card.name}'",
        path=verified_file(card, offline, progress, models),
        model=card.model,
        options=dict(card.options),
        num_classes=card.dataset["num_classes"],
        input_shape=card.input_shape,
        classes=[str(c) for c in card.classes],
        config=recipe_config(card),
        dataset=str(card.dataset["name"]),
        pictures=card.dataset.get("pictures"),
    )


def recipe_config(card: Card) -> RunConfig | None:
    """The run config a card's recipe records (named after its model if it names none), or
    ``None`` when it records none zoo can read."""
    recorded = card.recipe.get("config") or {}
    try:
        return RunConfig.from_dict(recorded, name=card.model) if recorded else None
    except ConfigError:
        return None


def get_card(name: str, weights: Registry) -> Card:
    """The checked card registered as ``name`` (did-you-mean when there is none, and the
    model's weights when ``name`` is a model's)."""
    try:
        entry = weights.get(name)
    except UnknownNameError as exc:
        tags = weights.names(f"{name}.*")
        if not tags:
            raise
        raise UnknownNameError(f"{exc}; the weights of model '{name}': {', '.join(tags)}") from None
    return entry.create()


def trained_from(
    source: str | Path, weights: Registry, which: str = "last", models: Registry | None = None
) -> Trained:
    """``source`` is a run directory (its ``which`` weights) or a registered weights name (with
    the ``models`` registry, a download is bounded by what the card's model holds)."""
    if is_hub_source(source):
        return from_hub(source, models)
    path = Path(source)
    if path.is_dir():
        return Trained.from_run(path, which)
    name = str(source)
    if name in weights:
        return from_card(get_card(name, weights), models=models)
    hint = did_you_mean(name, weights.names())
    raise ZooError(
        f"'{name}' is neither a run directory nor registered weights{hint} "
        "(zoo list weights shows the weights; zoo runs the run directories)"
    )


def is_hub_source(source: str | Path) -> bool:
    """Whether ``source`` names weights in the Hugging Face Hub's layout: ``hf://OWNER/NAME`` or
    a folder holding ``config.json`` and no run of zoo's."""
    return str(source).startswith(hub.PREFIX) or hub.is_hub_folder(source)


def hub_card(source: str | Path, models: Registry | None = None) -> tuple[Card, Path]:
    """The checked card of a Hub folder or ``hf://`` name (fetched into huggingface_hub's
    cache, bounded by what the card's model can hold) and the folder it is in. A model no
    installed plugin provides names the plugin to install."""
    text = str(source)
    if text.startswith(hub.PREFIX):
        bound = (lambda card: _check_claimed_size(card, models)) if models is not None else None
        folder = hub.download(text, bound)
        card = hub.read(folder, hub.cache_root(folder))
    else:
        folder = Path(source)
        card = hub.read(folder)
    if models is not None and card.model not in models:
        plugin = hub.plugin_of(folder)
        install = f"pip install {plugin}" if plugin else "install the plugin that provides it"
        raise ZooError(
            f"{source}: its config.json names model '{card.model}', which no installed plugin "
            f"provides: {install} (zoo list models shows what is installed)"
        )
    return card, folder


def from_hub(source: str | Path, models: Registry | None = None) -> Trained:
    """The weights of a Hub folder or ``hf://`` name as verified :class:`Trained`."""
    card, _ = hub_card(source, models)
    return from_card(card, models=models, label=f"{source} ({card.name})")


def card_fields(
    run_dir: Path,
    name: str,
    test: Mapping[str, Any] | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """The card of ``run_dir``'s best weights registered as ``name`` (``MODEL.TAG``), with the
    ``test`` split's ``loss`` and ``acc`` when they were measured; ``model`` is the model's
    bare name (default: the run's, as model.json says)."""
    check_name(name, "the weights name")
    folder = RunDir(run_dir)
    info, config, rows = folder.model_info, folder.config, folder.history()
    weights = folder.weights("best")  # a link out of the run: refused
    if not rows:
        raise ZooError(f"{run_dir} has no best weights yet (no epoch finished)")
    best = config.best(rows) or rows[-1]
    env = folder.env
    recipe = config.replace(dataset=config.dataset.without(*LOCAL_OPTIONS)).to_dict()
    point = folder.last_checkpoint()
    plugins = env.get("plugins") if isinstance(env.get("plugins"), Mapping) else {}
    versions = {"python": env.get("python"), "torch": env.get("torch")}
    versions |= {
        p["distribution"]: p["version"]
        for p in plugins.values()
        if isinstance(p, Mapping) and p.get("distribution") and p.get("version")
    }
    # env.json is the run's own story, and a shared run's is untrusted: only plain text goes on
    versions = {k: v for k, v in versions.items() if _short_text(k) and _short_text(v)}
    device, threads = env.get("device"), env.get("threads")
    hardware = env.get("hardware")
    if hardware is not None and not is_plain(hardware, 100):
        raise ZooError(
            f"{run_dir / 'env.json'}: its hardware {shown(hardware)} is not text zoo writes (one "
            "printable line, not starting like a spreadsheet formula): nothing published"
        )
    return {
        "format": FORMAT,
        "model": model or info["model"],
        "options": info.get("options", {}),
        "file": f"{name}.safetensors",
        "sha256": sha256_of(weights),
        "size": weights.stat().st_size,
        "dataset": {
            "name": info.get("dataset") or config.dataset.name,
            "num_classes": info["num_classes"],
            "input_shape": info["input_shape"],
            "classes": info.get("classes"),
            # the user's own data: how pictures were read, and the sha256 of the data as read
            **{k: info[k] for k in ("pictures", "data_sha256") if info.get(k) is not None},
        },
        # what the model costs and what training it took (absent from older runs and cards)
        "parameters": info.get("parameters"),
        "flops": info.get("flops"),
        "train_seconds": train_seconds(rows),
        "hardware": hardware,
        "metrics": {
            "epoch": best["epoch"],
            "val_loss": best["val_loss"],
            "val_acc": best["val_acc"],
            "test_loss": (test or {}).get("loss"),
            "test_acc": (test or {}).get("acc"),
        },
        "recipe": {
            "config": recipe,
            "seed": config.seed,
            "epochs": config.epochs,
            "device": device if _short_text(device) else None,
            "threads": threads if isinstance(threads, int) and 0 < threads < 1 << 16 else None,
            "world_size": point.world_size if point is not None else 1,
            "versions": versions,
        },
    }


def write_card(
    run_dir: Path,
    name: str,
    folder: Path,
    test: Mapping[str, Any] | None = None,
    model: str | None = None,
    seeds: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``NAME.json`` and ``NAME.safetensors`` (the run's best weights) into ``folder``;
    ``seeds``: every seed's metrics when the configuration was trained at several."""
    fields = card_fields(Path(run_dir), name, test, model)
    if seeds:
        fields["seeds"] = seeds
    folder.mkdir(parents=True, exist_ok=True)
    best = RunDir(run_dir).weights("best")
    with atomic(folder / fields["file"]) as tmp:
        shutil.copyfile(best, tmp)
    if sha256_of(folder / fields["file"]) != fields["sha256"]:  # changed while it was copied
        raise ZooError(f"{best} changed while it was copied: nothing published")
    card = folder / f"{name}.json"
    with atomic(card) as tmp:
        tmp.write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
    return card


#: The longest an epoch can honestly take (a week): a metrics row saying more is not zoo's.
MAX_EPOCH_SECONDS = 7 * 24 * 3600.0


def train_seconds(rows: list[dict[str, Any]]) -> float | None:
    """The wall time of every epoch the run trained (their ``epoch_seconds``), ``None`` when a
    row does not say it as a number zoo would write (a shared run's metrics are untrusted)."""
    seconds = [row.get("epoch_seconds") for row in rows]
    if not all(
        isinstance(s, (int, float)) and not isinstance(s, bool) and 0 <= s <= MAX_EPOCH_SECONDS
        for s in seconds
    ):
        return None
    return round(float(sum(seconds)), 1)


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and value.isprintable() and len(value) <= 100
