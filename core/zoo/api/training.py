"""Training, for a program: ``resolve`` (the run config ``zoo run`` would use), ``train``,
``resume`` and ``reproduce`` (with its comparison to the card). Each returns what the
command prints from; torch is imported when a run trains, never to resolve a config."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config as configs
from ..errors import ConfigError, ZooError
from ..runs.run import Run
from .catalog import current, get_weights
from .trained import open_run


def resolve(
    name: str,
    *,
    config: str | Path | None = None,
    overrides: configs.Overrides | None = None,
    **options: Any,
) -> configs.RunConfig:
    """The run config ``zoo run NAME`` would use, a frozen :class:`zoo.RunConfig`: run ``name``
    of the config file (``config``, else ``$ZOO_CONFIG``, ``./zoo.yaml`` or a parent's, else
    zoo's own), or any registered model with the defaults; then ``overrides``
    (``{"optimizer.lr": 0.1}``, like ``--set``) and ``options`` (``epochs``, ``seed``,
    ``device``, ``amp``: ``None`` leaves them). Every option is checked against its factory's
    signature; nothing is downloaded, torch is not imported."""
    doc = configs.load(configs.find_config(config))
    catalog = current()
    catalog.use_config(doc["path"], doc["models"])  # the models of the file in use
    models = catalog.registries["models"]
    resolved = configs.resolve_run(
        doc,
        name,
        is_model=models.__contains__,
        models=models.names(),
        overrides=overrides,
        options=options,
    )
    configs.check_options(resolved, catalog.registries)
    return resolved


def train(
    name: str,
    *,
    config: str | Path | None = None,
    overrides: configs.Overrides | None = None,
    out: str | Path | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    amp: bool | str | None = None,
    progress: bool = False,
    verbose: bool = False,
    keep_last: int = 1,
    nproc_per_node: int = 1,
) -> Run:
    """Train ``name`` (a run of the config file, or any registered model) and return the
    :class:`zoo.Run`: ``.dir``, ``.history`` (metrics.jsonl's rows) and ``.model``.

    ``overrides`` maps dotted keys to values like ``--set`` (``{"dataset.path": "mnist.pkl.gz"}``);
    ``out`` is the run directory (new or empty; default ``runs/NAME/YYYYmmdd-HHMMSS``);
    ``verbose`` prints what ``zoo run`` prints, ``progress`` adds a live bar per epoch;
    ``nproc_per_node`` > 1 trains in that many processes through torchrun. Mistakes raise
    :class:`zoo.ZooError` before any data is loaded.
    """
    from ..training import distributed  # imported to train, never to list or predict

    run_config = resolve(
        name, config=config, overrides=overrides, epochs=epochs, seed=seed, device=device, amp=amp
    )
    from ..runs import directory

    if out is not None:
        directory.check_out(out)  # a taken --out fails before any download
    how = {"keep_last": keep_last, "progress": progress, "verbose": verbose}
    if nproc_per_node > 1 and not distributed.active():
        fresh = out is None or not Path(out).exists()
        run_dir = directory.make_run_dir(name, out)  # reserved here, written by rank 0
        call = {"name": name, "config": config, "overrides": _plain(overrides), "out": run_dir}
        call |= {"epochs": epochs, "seed": seed, "device": device, "amp": amp, **how}
        return _launch(nproc_per_node, "train", call, run_dir, remove_if_empty=fresh)
    from ..training.trainer import Trainer

    with Trainer.start(run_config, current(), out=out, **how) as trainer:
        return trainer.fit()


@dataclass(frozen=True)
class LRFind:
    """A learning-rate range test: the rates tried, the smoothed training loss at each, the
    suggested rate (``None`` when the loss never fell) and the plot (``None``: not drawn)."""

    lrs: list[float]
    losses: list[float]
    suggestion: float | None
    plot: Path | None
    stopped_early: bool  # the loss blew up before the last rate


def lr_find(
    name: str,
    *,
    config: str | Path | None = None,
    overrides: configs.Overrides | None = None,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    device: str | None = None,
    out: str | Path | None = "lr-find.png",
) -> LRFind:
    """A learning-rate range test of run ``name`` (as :func:`train` resolves it): ``steps``
    optimizer steps from its initial weights with the rate growing exponentially from ``start``
    to ``end``, stopped when the loss blows up; the plot goes to ``out`` (``None``: none). No run
    directory is written; the suggestion (see ``zoo.training.lr_find.suggest``) is a rate to try
    as ``optimizer.lr``."""
    run_config = resolve(name, config=config, overrides=overrides, device=device)
    from ..training.lr_find import lr_range_test

    test = lr_range_test(run_config, current(), start=start, end=end, steps=steps, device=device)
    plot = None
    if out is not None and test.lrs:
        from ..runs import pictures

        plot = pictures.lr_find(test.lrs, test.losses, test.suggestion, Path(out))
    return LRFind(test.lrs, test.losses, test.suggestion, plot, test.stopped_early)


def resume(
    run_dir: str | Path,
    epochs: int | None = None,
    *,
    device: str | None = None,
    progress: bool = False,
    verbose: bool = False,
    keep_last: int = 1,
    nproc_per_node: int | None = None,
    overrides: configs.Overrides | None = None,
) -> Run:
    """Continue the run in ``run_dir`` from its last complete checkpoint to its configured epochs
    (or ``epochs``): on the same device it ends exactly as an uninterrupted run would. It runs in
    as many processes as trained it, unless ``nproc_per_node`` says otherwise; ``overrides`` may
    say where the data is now (``{"dataset.path": ...}``)."""
    from ..runs.rundir import DONE, RunDir
    from ..training import distributed  # imported to train, never to list or predict
    from ..training.trainer import Trainer

    run_dir = Path(run_dir)
    # a rank of a launched resume: the launcher checked the run, and rank 0 may hold it already
    standing = _resumable(RunDir(run_dir), rank=distributed.active())
    if epochs is not None and epochs < standing.epochs_done:
        raise ConfigError(
            f"--epochs {epochs}: {run_dir} has trained {standing.epochs_done} epochs already "
            "(ask for more to train further)"
        )
    nproc = nproc_per_node or standing.processes
    if standing.status in DONE and (epochs is None or epochs <= standing.epochs_done):
        nproc = 1  # nothing to train, no processes to start
    how = {"keep_last": keep_last, "progress": progress, "verbose": verbose}
    if nproc > 1 and not distributed.active():
        call = {"run_dir": run_dir, "epochs": epochs, "device": device, **how}
        call["overrides"] = _plain(overrides)
        return _launch(nproc, "resume", call, run_dir)
    with Trainer.resume(
        run_dir, current(), epochs=epochs, device=device, overrides=overrides, **how
    ) as trainer:
        return trainer.fit()


def _resumable(folder: Any, rank: bool = False) -> Any:
    """The run's standing, when ``zoo resume`` can continue it (or say it is complete); a broken
    run, one training now or a folder holding no run is one line. ``rank``: in a process of a
    launched resume, where the lock is rank 0's (its files are read, the lock aside)."""
    standing = folder.standing() if rank else folder.check()
    if standing.status == "broken":
        raise ZooError(f"{folder.path} cannot be resumed: {standing.reason}")
    if standing.status == "training":
        raise ZooError(
            f"{folder.path} is in use by {standing.reason}: wait for it to end (or stop it), "
            "then try again"
        )
    if standing.status == "new":
        folder.config  # noqa: B018 - raises what a folder holding no run is, in one line
    return standing


#: How far a reproduction's numbers may be from the card's to count as close: accuracies
#: within half a point, losses within 5% (seen: another CPU family with the same torch and
#: threads gave 89.79% for the card's 89.82%, val_acc 0.9034 for 0.9012).
CLOSE_ACC = 0.005
CLOSE_LOSS = 0.05


@dataclass(frozen=True)
class Reproduction:
    """What ``zoo.reproduce`` found: the new run and, key by key, the card's numbers and the new
    ones (``epoch``, ``val_loss``, ``val_acc`` of the best epoch, ``test_loss``, ``test_acc`` of its
    weights, their ``sha256``); ``facts``, the recorded facts that decide bit-exact numbers
    (torch, device, threads, processes, hardware, and the sha256 of the data as read where the
    card records it) as the card and this run have them."""

    run: Run
    rows: tuple[tuple[str, Any, Any], ...]  # (key, the card's, this run's)
    deterministic: bool = True  # the recipe asked for deterministic algorithms
    facts: tuple[tuple[str, Any, Any], ...] = ()  # (what, the card's, this run's)

    @property
    def matches(self) -> int:
        return sum(want == have for _, want, have in self.rows)

    @property
    def exact(self) -> bool:
        return self.matches == len(self.rows)

    @property
    def differing(self) -> list[tuple[str, Any, Any]]:
        """The facts the card records that this run does not share."""
        return [(what, card, here) for what, card, here in self.facts if card not in (None, here)]

    @property
    def other_data(self) -> bool:
        """Whether this run trained on other data than the card's (by the sha256 of the data as
        read, where the card records it)."""
        return any(what == "data" for what, _, _ in self.differing)

    @property
    def gaps(self) -> dict[str, float]:
        """How far each number is from the card's: accuracies in points (0.0003 = 0.03 points),
        losses relatively (0.01 = 1%)."""
        found = {}
        for key, want, have in self.rows:
            if not all(isinstance(v, (int, float)) for v in (want, have)) or key == "epoch":
                continue
            found[key] = (
                abs(have - want)
                if key.endswith("acc")
                else abs(have - want) / max(abs(want), 1e-12)
            )
        return found

    @property
    def close(self) -> bool:
        """Not the same numbers, but within what another CPU or thread count moves them."""
        gaps = self.gaps
        return bool(gaps) and all(
            gap <= (CLOSE_ACC if key.endswith("acc") else CLOSE_LOSS) for key, gap in gaps.items()
        )


def reproduce(
    name: str,
    *,
    out: str | Path | None = None,
    overrides: configs.Overrides | None = None,
    device: str | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> Reproduction:
    """Train the recipe recorded in the card of the weights ``name`` again, with every setting
    the card records that changes numbers (its seed, epochs, thread count, device where this
    machine has it), and compare with the card. ``overrides`` may say where the data is here
    (``dataset.*`` but its name), nothing else: the rest is the recipe. On the recipe's device
    and versions the numbers are the card's."""
    from ..data.cache import sha256_of
    from ..runs.trained import Trained
    from ..runs.weights import hub_card, is_hub_source, recipe_config
    from ..training.device import select_device
    from ..training.evaluation import evaluate_run
    from ..training.trainer import Trainer

    if is_hub_source(name):  # a Hub folder (or hf://) records the same card in its config.json
        card, _ = hub_card(name, current().registries["models"])
    else:
        card = get_weights(name)
    config = recipe_config(card)
    if config is None:
        raise ZooError(
            f"weights '{name}' record no recipe zoo can read: it cannot train them again"
        )
    configs.check_data_overrides(overrides, "zoo reproduce", "here", "the rest is the recipe")
    threads = card.recipe.get("threads")
    if config.threads == "auto" and isinstance(threads, int) and 0 < threads <= 1024:
        config = config.replace(threads=threads)  # a thread count changes the numbers on a CPU
    recorded_device = card.recipe.get("device")
    if device is None and isinstance(recorded_device, str):
        try:
            device = str(select_device(recorded_device))
        except ConfigError:  # a device this machine does not have: auto, and other numbers
            device = None
    if device is not None:
        config = config.replace(device=device)
    config = configs.revise(config, overrides, current().registries)
    if out is not None:
        from ..runs import directory

        directory.check_out(out)
    how = {"progress": progress, "verbose": verbose}
    with Trainer.start(config, current(), out=out, **how) as trainer:
        run = trainer.fit()
    best = run.best or {}
    got: dict[str, Any] = {k: best.get(k) for k in ("epoch", "val_loss", "val_acc")}
    if card.metrics.get("test_acc") is not None:
        trained = Trained.from_run(run.dir, "best")
        test = evaluate_run(trained, current(), "test", overrides, device)
        got |= {"test_loss": test["loss"], "test_acc": test["acc"]}
    got["sha256"] = sha256_of(run.files.weights("best"))
    rows = tuple(
        (key, card.sha256 if key == "sha256" else card.metrics.get(key), value)
        for key, value in got.items()
    )
    return Reproduction(run, rows, config.deterministic, _facts(card, run.dir))


def _facts(card: Any, run_dir: Path) -> tuple[tuple[str, Any, Any], ...]:
    """What decides bit-exact numbers, as the card recorded it and as this run's env.json does."""
    from ..runs.rundir import RunDir

    folder = RunDir(run_dir)
    env, recipe, point = folder.env, card.recipe, folder.last_checkpoint()
    return (
        ("torch", recipe.get("versions", {}).get("torch"), env.get("torch")),
        ("device", recipe.get("device"), env.get("device")),
        ("threads", recipe.get("threads"), env.get("threads")),
        ("processes", recipe.get("world_size"), point.world_size if point else None),
        ("hardware", card.hardware, env.get("hardware")),
        ("data", card.dataset.get("data_sha256"), folder.model_info.get("data_sha256")),
    )


def _texts(point: dict[str, Any]) -> list[str]:
    """A grid point as ``--set`` texts (values written back as YAML)."""
    return [f"{key}={json.dumps(value)}" for key, value in point.items()]


def _launch(
    nproc: int, call: str, kwargs: dict[str, Any], run_dir: Path, remove_if_empty: bool = False
) -> Run:
    """Make the same call in ``nproc`` processes (``python -m zoo.worker``, through torchrun);
    the run they trained, read back from its directory."""
    from ..training import distributed  # imported to train, never to list or predict

    spec = json.dumps({"call": call, "kwargs": kwargs}, default=str)
    try:
        distributed.launch(nproc, "zoo.worker", [spec])
    except BaseException:
        if remove_if_empty and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # reserved for this run and never written: ours to remove
        raise
    return open_run(run_dir)


def _plain(overrides: configs.Overrides | None) -> Any:
    """Overrides as JSON can carry them to the other processes."""
    if overrides is None or isinstance(overrides, dict):
        return overrides
    return list(overrides) if not isinstance(overrides, str) else [overrides]


# --- trained runs -----------------------------------------------------------------------------
