"""Searches on Optuna (``zoo tune``): a study whose trials are zoo runs, its workers here or on
other machines, its trials resumed after a worker dies. See ``zoo.search.study``."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ZooError
from ..plugins.builtin import auto_mode
from ..runs.run import Run
from .catalog import current
from .training import _texts, resolve


def sweep(
    name: str,
    overrides: Sequence[str],
    *,
    config: str | Path | None = None,
    out: str | Path | None = None,
    metric: str = "val_loss",
    mode: str | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    storage: str | None = None,
    workers: int = 1,
    progress: bool = False,
    verbose: bool = False,
) -> tuple[Path, list[dict[str, Any]]]:
    """Train ``name`` at every point of a grid: ``overrides`` are ``--set`` texts, and one
    whose value has top-level commas (``"optimizer.lr=0.1,0.05"``) is swept. Each run gets a
    directory under one sweep folder (``out``, or runs/sweeps/NAME-YYYYmmdd-HHMMSS); given the
    same folder again, finished runs are skipped and an interrupted one resumes.

    The grid is an Optuna study (its grid sampler, the journal file in the folder or the
    ``storage`` database), so ``workers`` processes here, and the same call on other machines
    sharing the folder or the database, train its points, never one twice; a point whose worker
    was killed resumes from its checkpoint. Returns the folder and a row per finished run, best
    first by ``metric`` (``mode`` min or max; default: min for a loss, max otherwise):
    ``{"dir", "point", "status", "best", "epochs"}``."""
    from ..runs import pictures, sweeps
    from ..runs.rundir import DONE, RunDir
    from ..search import study as studies

    grid, fixed = sweeps.parse_grid(overrides)
    if not grid:
        raise ConfigError("nothing to sweep: give a --set with values separated by commas")
    if mode not in (None, "min", "max"):
        raise ConfigError(f"--mode {mode}: expected min or max")
    if not 1 <= workers <= 64:
        raise ConfigError(f"--workers {workers}: expected 1 to 64")
    mode = auto_mode(metric, mode or "auto")
    points = sweeps.points(grid)
    options = {"epochs": epochs, "seed": seed, "device": device}
    for point in points:  # every point checked before the first run trains
        resolve(name, config=config, overrides=[*fixed, *_texts(point)], **options)
    _importable("zoo sweep")
    more = {"mode": mode, "config": str(config) if config is not None else None, **options}
    record = {"name": name, "grid": grid, "fixed": fixed, "metric": metric, **more}
    plan = studies.sweep_plan(json.loads(json.dumps(record)), storage=storage)
    if storage is not None:
        studies.storage(Path(out or "."), plan)  # the database reached before the folder is made
    new = out is None or not Path(out).exists() or not any(Path(out).iterdir())
    more = {k: v for k, v in {**more, "storage": storage}.items() if v is not None}
    folder = sweeps.open_folder(name, grid, fixed, metric, out, **more)
    for i, point in enumerate(points, 1):  # what is done already (the study trains the rest)
        run_dir = folder / sweeps.label(point)
        standing = RunDir(run_dir).check()
        if standing.status == "broken":
            raise ZooError(f"{run_dir} is broken: {standing.reason}")
        if verbose and standing.status in DONE:
            print(f"sweep {name}: run {i} of {len(points)}, {run_dir.name} ({standing.status})")
    try:
        _work(folder, plan, workers, verbose, progress=progress)
    except BaseException:
        if new:  # a sweep that failed before any of its runs began leaves no folder
            studies.remove_if_unused(folder)
        raise
    results = []
    for point in points:
        run_dir = folder / sweeps.label(point)
        status = RunDir(run_dir).check().status
        if status not in DONE:  # trained by a worker elsewhere, not finished yet
            continue
        run = Run(run_dir)
        best = sweeps.best_row(run.history, metric, mode)
        results.append({"dir": run.dir, "point": point, "status": status, "best": best,
                        "epochs": len(run.history), "history": run.history})  # fmt: skip
    results.sort(key=lambda r: r["best"][metric], reverse=mode == "max")
    histories = {sweeps.label(r["point"]): r.pop("history") for r in results}
    with contextlib.suppress(Exception):  # a failed picture is never worth a failed sweep
        pictures.compare(histories, folder / "sweep.png")
    return folder, results


def tune(
    name: str,
    space: Sequence[str],
    *,
    trials: int = 20,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    storage: str | None = None,
    study: str | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    workers: int = 1,
    epochs: int | None = None,
    seed: int | None = None,
    seeds: int = 1,
    objective: str | None = None,
    device: str | None = None,
    verbose: bool = False,
) -> Any:
    """Search the settings of run ``name`` on Optuna and return the ``optuna.Study``.

    ``space``: ``KEY=DISTRIBUTION`` texts (``optimizer.lr=loguniform(1e-3,1)``,
    ``model.width=int(8,64)``, ``optimizer.name=choice(sgd,adam)``); ``overrides``: ``--set``
    texts every trial has. Each trial is a run directory ``out/trial-0007/``; the trial's value is
    its best ``monitor`` (the run's, e.g. val_loss; ``mode`` as the run says), or with
    ``objective`` ``"seconds_to:val_acc=0.99"`` the training seconds it took to reach that
    (infinity when it did not; the least is best, no trial is pruned). ``storage``: a
    database URL many machines share (default: a journal file in ``out``); ``workers``: how many
    processes train trials here at once; ``seeds`` > 1: each trial trains its configuration at
    that many seeds (``out/trial-0007/seed-0/``...), its value their mean (the first seed's
    epochs are reported to the pruner). Given the same ``out`` again, the study goes on (a
    killed trial resumes from its checkpoint) until it has ``trials`` finished ones."""
    from ..search import space as spaces
    from ..search import study as studies

    if sampler not in studies.SAMPLERS:
        raise ConfigError(f"--sampler {sampler}: expected one of {', '.join(studies.SAMPLERS)}")
    if pruner not in studies.PRUNERS:
        raise ConfigError(f"--pruner {pruner}: expected one of {', '.join(studies.PRUNERS)}")
    if not 1 <= trials <= 100_000:
        raise ConfigError(f"--trials {trials}: expected 1 to 100,000")
    if not 1 <= workers <= 64:
        raise ConfigError(f"--workers {workers}: expected 1 to 64")
    if not 1 <= seeds <= 100:
        raise ConfigError(f"--seeds {seeds}: expected 1 to 100")
    distributions = spaces.parse(space)
    if seeds > 1 and "seed" in distributions:
        raise ConfigError("--seeds trains each trial at several seeds: the seed is not searched")
    _importable()
    base = resolve(name, config=config, overrides=list(overrides), epochs=epochs, seed=seed)
    for key, dist in distributions.items():  # every key is one --set takes, checked up front
        _check_key(name, config, overrides, key, dist, epochs, seed)
    metric, mode = base.monitor, auto_mode(base.monitor, base.mode)
    if objective is not None:  # the seconds to reach a value: less is better, nothing to prune
        studies.objective_metric(objective)
        metric, mode, pruner = objective.strip(), "min", "none"
    folder = Path(out) if out is not None else default_folder(name)
    plan = studies.Plan(
        name=name,
        space=spaces.describe(distributions),
        fixed=list(overrides),
        config=str(config) if config is not None else None,
        epochs=epochs,
        seed=seed,
        device=device,
        metric=metric,
        mode=mode,
        trials=trials,
        sampler=sampler,
        pruner=pruner,
        study=study or name,
        storage=storage,
        seeds=seeds,
    )
    if storage is not None:
        studies.storage(folder, plan)  # the database reached before the folder is made
    plan = studies.open_folder(folder, plan)
    own = plan.storage is None and not (folder / studies.JOURNAL).exists()
    if workers > 1:  # the storage reached and the study checked once, here, not in each worker
        studies.load_study(folder, plan)
    return _work(folder, plan, workers, verbose, own=own)


def join_study(folder: str | Path, *, workers: int = 1, trials: int | None = None,
         verbose: bool = False) -> Any:  # fmt: skip
    """Add workers to the study in ``folder`` (as its study.json records it), until it has
    ``trials`` (default: its own number) finished trials; returns the ``optuna.Study``."""
    from dataclasses import replace

    from ..search import study as studies

    folder = Path(folder)
    plan = studies.read_plan(folder)
    if trials is not None:
        plan = replace(plan, trials=trials)
    _importable()
    return _work(folder, plan, workers, verbose)


def _work(
    folder: Path,
    plan: Any,
    workers: int,
    verbose: bool,
    progress: bool = False,
    own: bool = False,
) -> Any:
    """Train the study's trials here: in this process, or in ``workers`` processes. ``own``:
    the study is this command's, new, on its own file: its sampler draws as --seed says;
    otherwise each worker mixes its own process into the seed (machines started alike, on one
    study, would draw the same values)."""
    from ..search import study as studies

    if workers > 1:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "zoo",
                    "tune",
                    "--join",
                    str(folder),
                    "--worker-index",
                    str(i),
                    "--trials",
                    str(plan.trials),
                    *([] if own else ["--mixed-seed"]),
                ],  # fmt: skip
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            for i in range(workers)
        ]
        try:
            codes = [p.wait() for p in procs]
        except BaseException:
            for p in procs:
                p.kill()
            raise
        if any(codes):
            raise ZooError(
                f"{sum(1 for c in codes if c)} of {workers} workers failed (their lines above); "
                f"the study goes on with zoo tune --join {folder}"
            )
        return studies.load_study(folder, plan)
    say = print if verbose else (lambda text: None)
    # a sweep's runs print their epochs, as zoo run does; a search's trials their lines only
    loud = verbose and plan.grid is not None
    trainer = _trainer(plan, progress=progress, verbose=loud)
    return studies.work(folder, plan, trainer, worker=0 if own else None, say=say)


def work_one(
    folder: str | Path, index: int, trials: int | None = None, mixed_seed: bool = False
) -> Any:
    """One worker process of ``zoo tune --workers N`` (its lines prefixed with its index)."""
    from dataclasses import replace

    from ..search import study as studies

    folder = Path(folder)
    plan = studies.read_plan(folder)
    if trials is not None:
        plan = replace(plan, trials=trials)

    def say(text: str) -> None:
        print(f"[worker {index}] {text}", flush=True)

    worker = None if mixed_seed else index
    return studies.work(folder, plan, _trainer(plan), worker=worker, say=say)


def _trainer(plan: Any, *, progress: bool = False, verbose: bool = False):
    """What trains (or resumes, or reads) one trial's run: its history and why it stopped."""
    how = {"progress": progress, "verbose": verbose}

    def train_trial(trial: Any, values: dict[str, Any], run_dir: Path, report: Any):
        from ..runs.run import Run
        from ..runs.rundir import RunDir
        from ..training.trainer import Trainer

        standing = RunDir(run_dir).check()
        catalog = current()
        if standing.status in ("unfinished", "complete", "stopped"):
            _same_values(run_dir, standing.config, values)
        if standing.status == "new":
            seed = values.get("seed", plan.seed)
            texts = [*plan.fixed, *_texts({k: v for k, v in values.items() if k != "seed"})]
            config = resolve(plan.name, config=plan.config, overrides=texts, epochs=plan.epochs,
                             seed=seed, device=plan.device)  # fmt: skip
            watchers = [report] if report is not None else []
            start = Trainer.start(config, catalog, out=run_dir, watchers=watchers, **how)
        elif standing.status == "unfinished":
            watchers = [report] if report is not None else []
            start = Trainer.resume(run_dir, catalog, device=plan.device, watchers=watchers, **how)
        elif standing.status in ("complete", "stopped"):
            run = Run(run_dir)
            stopped = standing.reason if standing.status == "stopped" else None
            return run.history, stopped
        else:
            raise ZooError(f"{run_dir} is {standing.status}: {standing.reason}")
        with start as trainer:
            run = trainer.fit()
            return run.history, trainer.stopped

    return train_trial


def _same_values(run_dir: Path, config: Any, values: dict[str, Any]) -> None:
    """A trial's run directory holds the trial's configuration: one someone changed (another
    value at a searched key) is refused, never resumed or counted as the trial's."""
    import math

    written = config.to_dict()
    for key, value in values.items():
        if not isinstance(value, (int, float)):  # numbers (a name or a path may be resolved)
            continue
        found: Any = written
        for part in key.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        same = found == value or (
            isinstance(found, (int, float)) and isinstance(value, (int, float))
            and math.isclose(found, value, rel_tol=1e-9)
        )  # fmt: skip
        if not same:
            raise ZooError(
                f"{run_dir} was changed: its config.yaml has {key}={found!r}, the trial "
                f"{value!r}; nothing trained there (remove the folder to train the trial again)"
            )


def list_studies(root: str | Path = "runs") -> list[dict[str, Any]]:
    """Every study below ``root`` (a folder with study.json, a search's, or sweep.json, a
    sweep's), read from its journal file and never written: ``{"folder", "kind", "name",
    "metric", "mode", "trials", "states", "best", "problem"}``; one that cannot be read is a
    row with its ``problem`` (a study kept in a database is not connected to: it says where)."""
    from ..runs import directory, sweeps
    from ..runs.rundir import one_line
    from ..search import study as studies

    wanted = lambda names: studies.PLAN in names or sweeps.FILE in names  # noqa: E731
    rows = []
    for folder in directory.find_folders(Path(root), wanted):
        kind = "search" if (folder / studies.PLAN).exists() else "sweep"
        row: dict[str, Any] = {"folder": folder, "kind": kind, "name": None, "metric": None,
                               "mode": None, "trials": 0, "states": {}, "best": None,
                               "problem": None}  # fmt: skip
        try:
            plan = studies.read_plan(folder)
            row |= {"name": plan.name, "metric": plan.metric, "mode": plan.mode}
            found = tune_status(folder, files_only=True, importances=False)
        except Exception as exc:  # whatever a shared folder holds: its row says why
            row["problem"] = one_line(exc)
            rows.append(row)
            continue
        for trial in found["trials"]:
            row["states"][trial["state"]] = row["states"].get(trial["state"], 0) + 1
        row["trials"] = len(found["trials"])
        row["best"] = found["best"]["value"] if found["best"] else None
        rows.append(row)
    return rows


def tune_status(
    folder: str | Path, *, files_only: bool = False, importances: bool = True
) -> dict[str, Any]:
    """The study in ``folder`` (a search's or a sweep's), read and never written: its plan, its
    trials (number, state, value, parameters, run directory, epochs reported), the best one and
    the parameters' importances (Optuna's, once two trials are complete). ``files_only``: a
    study kept in a database is not read (one line says where it is)."""
    import warnings

    import optuna

    from ..search import study as studies

    folder = Path(folder)
    plan = studies.read_plan(folder)
    study = studies.read_study(folder, plan, files_only=files_only)
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "params": dict(t.params),
                "run_dir": t.user_attrs.get("run_dir"),
                "epochs": len(t.intermediate_values),
                "retry_of": t.system_attrs.get("failed_trial"),
                "seeds": t.user_attrs.get("seeds"),  # each seed's value (--seeds N)
                "sd": t.user_attrs.get("sd"),
            }
        )
    complete = [t for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.COMPLETE]  # fmt: skip
    best = None
    weights: dict[str, float] = {}
    if complete:
        b = study.best_trial
        best = {"number": b.number, "value": b.value, "params": dict(b.params),
                "run_dir": b.user_attrs.get("run_dir"), "seeds": b.user_attrs.get("seeds"),
                "sd": b.user_attrs.get("sd")}  # fmt: skip
    if importances and len(complete) >= 2 and len(plan.grid or plan.space) >= 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                weights = dict(optuna.importance.get_param_importances(study))
            except (RuntimeError, ValueError, ZeroDivisionError):
                weights = {}
    return {"plan": plan, "trials": rows, "best": best, "importances": weights,
            "folder": folder}  # fmt: skip


def _importable(what: str = "zoo tune") -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{what} runs its searches on Optuna, which zoo needs and is not installed: "
            "pip install optuna"
        ) from None


def _check_key(name, config, overrides, key, dist, epochs, seed) -> None:
    """A value of ``dist`` set at ``key`` resolves (an unknown key or option is one line)."""
    import optuna.distributions as d

    if isinstance(dist, d.CategoricalDistribution):
        samples = list(dist.choices)
    else:
        samples = [dist.low, dist.high]
    for value in samples:
        try:
            resolve(name, config=config, overrides=[*overrides, *_texts({key: value})],
                    epochs=epochs, seed=seed)  # fmt: skip
        except ZooError as exc:  # an unknown key, option or name; a value out of range
            raise ConfigError(f"--space {key}: {exc}") from None


def default_folder(name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / "studies" / f"{name}-{stamp}"
