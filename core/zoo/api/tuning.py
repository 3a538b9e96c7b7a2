"""Searches on Optuna (``zoo tune``): a study whose trials are zoo runs, its workers here or on
other machines, its trials resumed after a worker dies. See ``zoo.search.study``."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ZooError
from ..plugins.builtin import auto_mode
from .catalog import current
from .training import _texts, resolve


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
    device: str | None = None,
    verbose: bool = False,
) -> Any:
    """Search the settings of run ``name`` on Optuna and return the ``optuna.Study``.

    ``space``: ``KEY=DISTRIBUTION`` texts (``optimizer.lr=loguniform(1e-3,1)``,
    ``model.width=int(8,64)``, ``optimizer.name=choice(sgd,adam)``); ``overrides``: ``--set``
    texts every trial has. Each trial is a run directory ``out/trial-0007/``; the trial's value is
    its best ``monitor`` (the run's, e.g. val_loss; ``mode`` as the run says). ``storage``: a
    database URL many machines share (default: a journal file in ``out``); ``workers``: how many
    processes train trials here at once. Given the same ``out`` again, the study goes on (a
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
    distributions = spaces.parse(space)
    _importable()
    base = resolve(name, config=config, overrides=list(overrides), epochs=epochs, seed=seed)
    for key, dist in distributions.items():  # every key is one --set takes, checked up front
        _check_key(name, config, overrides, key, dist, epochs, seed)
    mode = auto_mode(base.monitor, base.mode)
    folder = Path(out) if out is not None else default_folder(name)
    plan = studies.Plan(
        name=name,
        space=spaces.describe(distributions),
        fixed=list(overrides),
        config=str(config) if config is not None else None,
        epochs=epochs,
        seed=seed,
        device=device,
        metric=base.monitor,
        mode=mode,
        trials=trials,
        sampler=sampler,
        pruner=pruner,
        study=study or name,
        storage=storage,
    )
    if storage is not None:
        studies.storage(folder, plan)  # the database reached before the folder is made
    plan = studies.open_folder(folder, plan)
    if workers > 1:  # the storage reached and the study checked once, here, not in each worker
        studies.load_study(folder, plan)
    return _work(folder, plan, workers, verbose)


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


def _work(folder: Path, plan: Any, workers: int, verbose: bool) -> Any:
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
    return studies.work(folder, plan, _trainer(plan), worker=0, say=say)


def work_one(folder: str | Path, index: int, trials: int | None = None) -> Any:
    """One worker process of ``zoo tune --workers N`` (its lines prefixed with its index)."""
    from dataclasses import replace

    from ..search import study as studies

    folder = Path(folder)
    plan = studies.read_plan(folder)
    if trials is not None:
        plan = replace(plan, trials=trials)

    def say(text: str) -> None:
        print(f"[worker {index}] {text}", flush=True)

    return studies.work(folder, plan, _trainer(plan), worker=index, say=say)


def _trainer(plan: Any):
    """What trains (or resumes, or reads) one trial's run: its history and why it stopped."""

    def train_trial(trial: Any, values: dict[str, Any], run_dir: Path, report: Any):
        from ..runs.run import Run
        from ..runs.rundir import RunDir
        from ..training.trainer import Trainer

        standing = RunDir(run_dir).check()
        catalog = current()
        if standing.status == "new":
            texts = [*plan.fixed, *_texts(values)]
            config = resolve(plan.name, config=plan.config, overrides=texts, epochs=plan.epochs,
                             seed=plan.seed, device=plan.device)  # fmt: skip
            start = Trainer.start(config, catalog, out=run_dir, watchers=[report])
        elif standing.status == "unfinished":
            start = Trainer.resume(run_dir, catalog, device=plan.device, watchers=[report])
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


def tune_status(folder: str | Path) -> dict[str, Any]:
    """The study in ``folder``: its plan, its trials (number, state, value, parameters, run
    directory, epochs reported), the best one and the parameters' importances (Optuna's, once
    two trials are complete)."""
    import warnings

    import optuna

    from ..search import study as studies

    folder = Path(folder)
    plan = studies.read_plan(folder)
    study = studies.load_study(folder, plan)
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
            }
        )
    complete = [t for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.COMPLETE]  # fmt: skip
    best = None
    importances: dict[str, float] = {}
    if complete:
        b = study.best_trial
        best = {"number": b.number, "value": b.value, "params": dict(b.params),
                "run_dir": b.user_attrs.get("run_dir")}  # fmt: skip
    if len(complete) >= 2 and len(plan.space) >= 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                importances = dict(optuna.importance.get_param_importances(study))
            except (RuntimeError, ValueError, ZeroDivisionError):
                importances = {}
    return {"plan": plan, "trials": rows, "best": best, "importances": importances,
            "folder": folder}  # fmt: skip


def _importable() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError(
            "zoo tune runs its searches on Optuna, which is not installed: pip install "
            "'torch-zoo[tune]' (or pip install optuna)"
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
