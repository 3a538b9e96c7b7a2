"""A study on Optuna whose trials are zoo runs: ``STUDY_DIR/trial-0007/`` is trial 7's run
directory, its epochs reported to the trial as they end (a pruner may stop it: a ``stopped`` run
with the pruner's reason), its best value of the run's ``monitor`` the trial's value.

The study lives in an Optuna storage: by default a journal file in the study directory (many
processes on one machine, or on a shared file system), or a database URL (``postgresql://``,
``sqlite:///``: machines that share it). ``study.json`` beside the trials records what the study
searches (the run, its settings, the space, the metric), so that another worker, here or on
another machine, joins the same search (``zoo tune --join STUDY_DIR``), and a study made for
another search is refused.

A trial whose worker died (SIGKILL, a lost machine) is not lost: its run directory keeps its
checkpoints, so the next worker marks the trial failed, queues it again with its parameters, its
reported values and its directory, and the new trial resumes the run from its last checkpoint,
with the numbers an uninterrupted trial has. A dead worker is found by its process on this
machine, and through Optuna's heartbeat on a database."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import stat
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ZooError
from ..files import write_atomic
from ..runs import sweeps
from . import space as spaces

PLAN = "study.json"
JOURNAL = "journal.log"
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "halving", "none")
#: A database's trials send a heartbeat this often (seconds); one silent for the grace is dead.
HEARTBEAT = 10
GRACE = 30


@dataclass(frozen=True)
class Plan:
    """What a study searches, as study.json records it."""

    name: str  # the run (zoo run NAME)
    space: dict[str, str]  # key -> distribution, as written
    fixed: list[str] = field(default_factory=list)  # --set texts every trial has
    config: str | None = None
    epochs: int | None = None
    seed: int | None = None
    device: str | None = None
    metric: str = "val_loss"
    mode: str = "min"
    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "median"
    study: str = ""  # the Optuna study's name
    storage: str | None = None  # a database URL; None: the journal file in the folder
    grid: dict[str, list[Any]] | None = None  # a sweep: every point of this grid, once
    seeds: int = 1  # each trial's configuration trained at this many seeds (seed, seed + 1...)

    def same_search(self, other: Plan) -> list[str]:
        """What differs from ``other`` in what is searched (trials, sampler, pruner may)."""
        keys = ("name", "space", "fixed", "config", "epochs", "seed", "metric", "mode", "study",
                "grid", "seeds")  # fmt: skip
        return [k for k in keys if getattr(self, k) != getattr(other, k)]

    def distributions(self) -> dict[str, Any]:
        """Each key's Optuna distribution (a grid's: its values, as Optuna can store them)."""
        import optuna.distributions as d

        if self.grid is not None:
            return {k: d.CategoricalDistribution(grid_choices(v)) for k, v in self.grid.items()}
        return {key: spaces.parse([f"{key}={text}"])[key] for key, text in self.space.items()}

    def trial_dir(self, folder: Path, number: int, values: dict[str, Any]) -> Path:
        """A trial's run directory: a sweep's point's own name, a search's trial-0007."""
        if self.grid is not None:
            return folder / sweeps.label(values)
        return folder / f"trial-{number:04d}"


def grid_choices(values: list[Any]) -> list[Any]:
    """A grid's values as Optuna stores choices: a number, a name, true, false or null as they
    are, a list or a mapping as its JSON text."""
    return [v if v is None or isinstance(v, (str, int, float, bool)) else
            json.dumps(v, sort_keys=True) for v in values]  # fmt: skip


def grid_point(plan: Plan, params: dict[str, Any]) -> dict[str, Any]:
    """The grid point (values as the sweep gave them) of a trial's parameters."""
    assert plan.grid is not None
    point = {}
    for key, values in plan.grid.items():
        choices = grid_choices(values)
        point[key] = values[choices.index(params[key])]
    return point


def read_plan(folder: Path) -> Plan:
    """The study in ``folder``: a search's (study.json) or a sweep's (sweep.json)."""
    path = folder / PLAN
    if not path.exists() and (folder / sweeps.FILE).exists():
        return sweep_plan(sweeps.read(folder))
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(fields, dict):
            raise ValueError("not an object")
        return Plan(**fields)
    except FileNotFoundError:
        raise ConfigError(f"{folder} holds no study ({PLAN}): start one with zoo tune") from None
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a study zoo can read ({exc})") from None


def open_folder(folder: Path, plan: Plan) -> Plan:
    """The study folder with ``plan`` recorded: a new one, or one made for the same search."""
    if (folder / PLAN).exists():
        recorded = read_plan(folder)
        differ = recorded.same_search(plan)
        if differ:
            shown = ", ".join(f"{k} {getattr(recorded, k)!r}" for k in differ)
            raise ConfigError(
                f"{folder} is a study of another search ({shown}): give another --out, or "
                f"zoo tune --join {folder} to add a worker to it as it is"
            )
        return recorded if plan.storage is None else plan
    if folder.exists() and any(p.name != ".lock" for p in folder.iterdir()):
        raise ConfigError(f"{folder} is not empty and holds no study: give another --out")
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / PLAN, (json.dumps(asdict(plan), indent=2) + "\n").encode())
    return plan


def sweep_plan(record: dict[str, Any], **given: Any) -> Plan:
    """A sweep (sweep.json's record) as a study: Optuna's grid sampler over its points, no
    pruner, as many trials as points, each run in the point's own directory."""
    from ..plugins.builtin import auto_mode

    fields = {k: record.get(k) for k in ("config", "epochs", "seed", "device", "storage")}
    fields |= {k: v for k, v in given.items() if v is not None}
    metric = record.get("metric") or "val_loss"
    return Plan(
        name=record["name"],
        space={},
        grid=record["grid"],
        fixed=list(record.get("fixed", [])),
        metric=metric,
        mode=auto_mode(metric, record.get("mode") or "auto"),
        trials=len(sweeps.points(record["grid"])),
        sampler="grid",
        pruner="none",
        study=record["name"],
        **fields,
    )


def remove_if_unused(folder: Path) -> None:
    """A study folder no trial ever wrote in, removed: the files zoo made there and the folder,
    never anything else (a folder that holds more is left as it is)."""
    ours = {PLAN, sweeps.FILE, JOURNAL, f"{JOURNAL}.lock", ".lock"}
    with contextlib.suppress(OSError):
        if not all(p.name in ours and p.is_file() for p in folder.iterdir()):
            return
        for name in ours:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        folder.rmdir()


def storage(folder: Path, plan: Plan) -> Any:
    """The Optuna storage of the study: its database, or the journal file in ``folder``."""
    import optuna

    url = plan.storage
    if url is None:
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(folder / JOURNAL)))
    if not url.startswith(("postgresql://", "postgresql+", "sqlite:///", "mysql://", "mysql+")):
        raise ConfigError(
            f"--storage {url!r}: expected a database URL (postgresql://USER@HOST/DB, "
            "sqlite:///FILE), or none for the journal file in the study folder"
        )
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)  # Optuna 4.9+
    kind = "heartbeat_stale_trial_callback" if retry is not None else "failed_trial_callback"
    retry = retry or optuna.storages.RetryFailedTrialCallback
    try:
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    again = {kind: retry(inherit_intermediate_values=True)}
                    return optuna.storages.RDBStorage(
                        url,
                        heartbeat_interval=HEARTBEAT,
                        grace_period=GRACE,
                        engine_kwargs={"pool_pre_ping": True},
                        **again,
                    )
            except Exception as exc:  # noqa: PERF203
                # two workers making Optuna's tables in a new database at once: one of them
                # is refused (a duplicate key, a table that exists); the tables are there then
                said = str(exc)
                if attempt == 4 or not ("duplicate key" in said or "already exists" in said):
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")
    except ImportError as exc:  # the database's driver (psycopg for postgresql)
        raise ConfigError(
            f"--storage {_shown(url)}: its database driver is not installed ({exc}): pip "
            "install 'torch-zoo[postgresql]' (psycopg) for PostgreSQL"
        ) from None
    except Exception as exc:  # sqlalchemy's, psycopg's: one line, the URL's password left out
        raise ConfigError(
            f"--storage {_shown(url)}: cannot reach the database ({_first_line(exc)})"
        ) from None


#: The largest journal file read (a study of thousands of trials is a few MB).
MAX_JOURNAL = 64 << 20


def read_study(folder: Path, plan: Plan, *, files_only: bool = False) -> Any:
    """The study as its storage holds it, read and never written (nothing is created): for
    ``zoo tune --status`` and the page. ``files_only``: a study in a database is not connected
    to (a folder someone shared names its URL), one line says where its trials are."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if plan.storage is not None:
        if files_only:
            raise ZooError(f"its trials are in a database ({_shown(plan.storage)}): "
                           f"zoo tune --status {folder} reads them")  # fmt: skip
        store = storage(folder, plan)
    else:
        from optuna.storages.journal import JournalFileBackend

        path = folder / JOURNAL
        try:
            info = os.stat(path, follow_symlinks=False)
        except OSError:
            raise ZooError("no trial has begun (no journal.log yet)") from None
        if not stat.S_ISREG(info.st_mode):
            raise ZooError(f"{path} is not a regular file: not a journal zoo wrote")
        if info.st_size > MAX_JOURNAL:
            raise ZooError(f"{path} is larger than {MAX_JOURNAL >> 20} MB: not read")
        try:
            store = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        except Exception as exc:  # whatever a shared file holds: one line
            raise ZooError(f"{path} is not a journal Optuna wrote ({_first_line(exc)})") from None
    try:
        return optuna.load_study(study_name=plan.study, storage=store)
    except KeyError:
        raise ZooError(f"its storage holds no study named {plan.study!r} yet") from None


def load_study(folder: Path, plan: Plan, *, worker: int | None = None) -> Any:
    import optuna

    # Optuna's own lines (a failed trial's traceback among them) are left out: zoo says each
    # trial's outcome in one line
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    samplers = {
        "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
        "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    }
    pruners = {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(),
        "halving": lambda: optuna.pruners.SuccessiveHalvingPruner(),
        "none": lambda: optuna.pruners.NopPruner(),
    }
    if plan.grid is not None:  # one order of the points in every worker: the same seed
        grid = {k: grid_choices(v) for k, v in plan.grid.items()}
        samplers["grid"] = lambda seed: optuna.samplers.GridSampler(grid, seed=0)
    # the sampler's seed: a fresh study's workers here draw as the seed says (worker 0, 1...);
    # a worker joining a study others share mixes in its own process, or two machines started
    # alike would draw the same values trial after trial
    if plan.seed is None:
        seed = None
    elif worker is not None:
        seed = plan.seed * 1000 + worker
    else:
        seed = plan.seed * 1000 + zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode())
        seed %= 2**31
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=storage(folder, plan),
            study_name=plan.study,
            direction="minimize" if plan.mode == "min" else "maximize",
            sampler=samplers[plan.sampler](seed),
            pruner=pruners[plan.pruner](),
            load_if_exists=True,
        )
    recorded = study.user_attrs.get("zoo")
    mine = {"name": plan.name, "metric": plan.metric, "mode": plan.mode, "space": plan.space}
    if plan.grid is not None:
        mine = {k: v for k, v in mine.items() if k != "space"} | {"grid": plan.grid}
    if recorded is None:
        study.set_user_attr("zoo", mine)
    elif recorded != mine:
        raise ConfigError(
            f"the study {plan.study!r} in {_shown(plan.storage or str(folder / JOURNAL))} was "
            f"made for another search ({recorded}): give another --study"
        )
    return study


def finished(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def more_needed(study: Any, plan: Plan) -> bool:
    """Whether this worker should start another trial: a queued one waits (a trial to resume;
    a sweep's point), or a search has fewer than ``plan.trials`` finished or running ones."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return True
    if plan.grid is not None:  # a sweep trains its queued points, and nothing else
        return False
    going = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return sum(t.state in going for t in trials) < plan.trials


def recover(study: Any, folder: Path, plan: Plan, say: Callable[[str], None]) -> None:
    """Under the folder's lock: trials still marked running whose worker on this machine is
    gone are marked failed, and a search's are queued again (parameters, reported values, run
    directory), once. A sweep's points are queued in the grid's order: each that no trial
    waits for, trains, or finished with its run directory saying so (a new study's every point;
    one whose worker died, whose run failed, or whose folder someone removed or changed)."""
    import optuna
    from filelock import FileLock
    from optuna.trial import TrialState

    host = socket.gethostname()
    with FileLock(str(folder / ".lock")):
        trials = study.get_trials(deepcopy=False)
        dead = []
        for trial in trials:
            if trial.state != TrialState.RUNNING:
                continue
            where, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
            if where == host and pid.isdigit() and not _alive(int(pid)):
                dead.append((trial, pid))
        # a trial goes on elsewhere when another of the same original waits or runs
        numbers = {t.number for t, _ in dead}
        going = {_original(t) for t in trials if not t.state.is_finished()
                 and t.number not in numbers}  # fmt: skip
        for trial, pid in dead:
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            say(
                f"trial {trial.number}: its worker (process {pid}) is gone; queued again, to "
                f"resume {trial.user_attrs.get('run_dir', 'its run')} from its last checkpoint"
            )
            if plan.grid is not None or _original(trial) in going:
                continue
            _again(study, trial)
            going.add(_original(trial))
        if plan.grid is not None:
            _queue_points(study, folder, plan)


def _queue_points(study: Any, folder: Path, plan: Plan) -> None:
    """Each of a sweep's points that nothing covers, queued (its values as the grid's choices)."""
    from optuna.trial import TrialState

    from ..runs.rundir import DONE, RunDir

    assert plan.grid is not None
    covered = set()
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.FAIL:
            continue
        if t.state == TrialState.COMPLETE:
            where = folder / str(t.user_attrs.get("run_dir", ""))
            if RunDir(where).check().status not in DONE:
                continue
        covered.add(_point_key(t.params or t.system_attrs.get("fixed_params") or {}))
    for point in sweeps.points(plan.grid):
        params = {k: grid_choices([v])[0] for k, v in point.items()}
        if _point_key(params) not in covered:
            study.enqueue_trial(params)
            covered.add(_point_key(params))


def _point_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _original(trial: Any) -> int:
    return trial.system_attrs.get("failed_trial", trial.number)


def _again(study: Any, trial: Any) -> None:
    """A failed trial queued again: its parameters, reported values and run directory."""
    import optuna
    from optuna.trial import TrialState

    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    attrs = {"failed_trial": _original(trial), "retry_history": history}
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs=trial.user_attrs,
            system_attrs=attrs,
            intermediate_values=trial.intermediate_values,
        )
    )


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal said it is there


def suggest(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """The trial's value of each key (a queued trial's own parameters come back as they were)."""
    import optuna.distributions as d

    values = {}
    for key, dist in space.items():
        if isinstance(dist, d.CategoricalDistribution):
            values[key] = trial.suggest_categorical(key, dist.choices)
        elif isinstance(dist, d.IntDistribution):
            values[key] = trial.suggest_int(key, dist.low, dist.high, log=dist.log)
        else:
            values[key] = trial.suggest_float(key, dist.low, dist.high, log=dist.log)
    return values


class Report:
    """A watcher of a trial's run (a callback not saved with it): each epoch's ``metric`` is
    reported to the trial as its step, and the pruner asked whether to go on. A resumed run's
    epochs before the checkpoint are reported again only where the trial lacks them."""

    def __init__(self, trial: Any, metric: str, pruner: str) -> None:
        self.trial, self.metric, self.pruner = trial, metric, pruner
        self.pruned: str | None = None

    def on_start(self, trainer: Any) -> None:
        known = self._known()
        for i, row in enumerate(trainer.history):
            value = self._value(trainer.history[: i + 1])
            if row["epoch"] not in known and _finite(value):
                self.trial.report(float(value), row["epoch"])

    def _value(self, rows: list[dict[str, Any]]) -> Any:
        """What the trial reports after ``rows``: the metric of the last, or for a
        ``seconds_to:`` objective the seconds trained so far."""
        if self.metric.startswith("seconds_to:"):
            return sum(float(r["epoch_seconds"]) for r in rows if _finite(r.get("epoch_seconds")))
        return rows[-1].get(self.metric) if rows else None

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        rows = trainer.history  # this epoch's row is its last (the trainer appends it first)
        value = self._value(rows if rows and rows[-1] is row else [*rows, row])
        if not _finite(value):
            return
        if row["epoch"] not in self._known():
            self.trial.report(float(value), row["epoch"])
        if row["epoch"] < trainer.epochs and self.trial.should_prune():  # the last one ends
            self.pruned = (
                f"pruned by Optuna's {self.pruner} pruner after epoch {row['epoch']} "
                f"({self.metric} {value:.4g})"
            )
            trainer.stop(self.pruned)

    def on_end(self, trainer: Any) -> None:
        pass

    def _known(self) -> dict[int, float]:
        return _frozen(self.trial).intermediate_values


def _frozen(trial: Any) -> Any:
    """A live trial as the storage holds it now (its system attributes, reported values)."""
    return trial.study._storage.get_trial(trial._trial_id)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


#: ``--objective seconds_to:val_acc=0.99``: the training seconds a run took to reach a value.
SECONDS_TO = re.compile(
    r"^seconds_to:([A-Za-z_][A-Za-z0-9_]*)=([-+]?[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)$"
)


def objective_metric(text: str) -> tuple[str, float]:
    """``seconds_to:val_acc=0.99`` -> ("val_acc", 0.99); anything else is one line."""
    found = SECONDS_TO.match(text.strip())
    if not found or not math.isfinite(float(found.group(2))):
        raise ConfigError(
            f"--objective {text!r}: expected seconds_to:METRIC=VALUE (the training seconds a "
            "trial takes to reach it, e.g. seconds_to:val_acc=0.99), or none for the run's monitor"
        )
    return found.group(1), float(found.group(2))


def seconds_to(history: list[dict[str, Any]], metric: str, target: float) -> float:
    """The epochs' seconds up to the first whose ``metric`` reaches ``target`` (at or above it
    for an accuracy, at or below for a loss); infinity when none does."""
    from ..plugins.builtin import auto_mode

    higher = auto_mode(metric, "auto") == "max"
    spent = 0.0
    for row in history:
        seconds = row.get("epoch_seconds")
        spent += float(seconds) if _finite(seconds) else 0.0
        value = row.get(metric)
        if _finite(value) and (value >= target if higher else value <= target):
            return spent
    return math.inf


def best(history: list[dict[str, Any]], metric: str, mode: str) -> float | None:
    if metric.startswith("seconds_to:"):
        return seconds_to(history, *objective_metric(metric))
    values = [r[metric] for r in history if _finite(r.get(metric))]
    if not values:
        return None
    return min(values) if mode == "min" else max(values)


def work(
    folder: Path,
    plan: Plan,
    train_trial: Callable[..., Any],
    *,
    worker: int | None = None,
    say: Callable[[str], None] = print,
) -> Any:
    """This process as one worker of the study: trials until the study has ``plan.trials``
    finished ones (complete or pruned; a sweep: every point once). ``train_trial(trial,
    values, run_dir, report)`` trains or resumes the trial's run and returns its history and
    why it stopped early (or None)."""
    import optuna

    from ..runs.rundir import RunDir

    study = load_study(folder, plan, worker=worker)
    space = plan.distributions()
    me = f"{socket.gethostname()}:{os.getpid()}"
    points = sweeps.points(plan.grid) if plan.grid is not None else []

    def objective(trial: Any) -> float:
        try:
            return attempt(trial)
        except ZooError as exc:
            say(f"trial {trial.number}: failed: {exc}")
            raise

    def attempt(trial: Any) -> float:
        original = _frozen(trial).system_attrs.get("failed_trial")
        number = trial.number if original is None else original
        trial.set_user_attr("worker", me)
        values = suggest(trial, space)
        if plan.grid is not None:
            values = grid_point(plan, values)
        run_dir = plan.trial_dir(folder, number, values)
        trial.set_user_attr("run_dir", run_dir.name)
        report = Report(trial, plan.metric, plan.pruner)
        if plan.grid is not None:
            status = RunDir(run_dir).check().status
            if status == "training":  # two workers drew one point at once: the other has it
                raise optuna.TrialPruned(f"{run_dir.name} is trained by another worker")
            at = points.index(values) + 1
            say(f"sweep {plan.name}: run {at} of {len(points)}, {run_dir.name} ({status})")
        else:
            shown = ", ".join(f"{k}={_value(v)}" for k, v in values.items())
            again = "" if original is None else f" (trial {original} again, resumed)"
            say(f"trial {trial.number}{again}: {shown} -> {run_dir}")
        if plan.seeds > 1:
            return over_seeds(trial, values, run_dir, report)
        history, stopped = train_trial(trial, values, run_dir, report)
        value = best(history, plan.metric, plan.mode)
        if report.pruned or (stopped and "pruned by Optuna" in stopped):
            say(f"trial {trial.number}: {report.pruned or stopped}")
            raise optuna.TrialPruned(report.pruned or stopped)
        if value is None:
            raise ZooError(f"{run_dir}: its run has no {plan.metric} to report (--metric)")
        if plan.grid is None:
            say(f"trial {trial.number}: {plan.metric} {value:.4f} after {len(history)} epochs")
        return value

    def over_seeds(trial: Any, values: dict[str, Any], run_dir: Path, report: Report) -> float:
        """The configuration at each seed, a run each (run_dir/seed-N); the first seed's epochs
        are reported (the pruner judges it); the trial's value is the mean of the seeds'."""
        found: dict[str, float] = {}
        for k in range(plan.seeds):
            seed = (plan.seed or 0) + k
            watcher = report if k == 0 else None
            history, stopped = train_trial(trial, {**values, "seed": seed},
                                           run_dir / f"seed-{seed}", watcher)  # fmt: skip
            if k == 0 and (report.pruned or (stopped and "pruned by Optuna" in stopped)):
                say(f"trial {trial.number}: {report.pruned or stopped}")
                raise optuna.TrialPruned(report.pruned or stopped)
            value = best(history, plan.metric, plan.mode)
            if value is None:
                raise ZooError(f"{run_dir}/seed-{seed}: its run has no {plan.metric} to report")
            found[str(seed)] = value
            trial.set_user_attr("seeds", found)
        mean, sd = mean_sd(list(found.values()))
        trial.set_user_attr("sd", sd)
        if sd is None:
            missed = sum(not math.isfinite(v) for v in found.values())
            say(f"trial {trial.number}: {plan.metric} not reached at {missed} of {plan.seeds} "
                "seeds")  # fmt: skip
        else:
            say(f"trial {trial.number}: {plan.metric} {mean:.4f} ± {sd:.4f} over {plan.seeds} "
                "seeds")  # fmt: skip
        return mean

    def enough(study: Any, trial: Any) -> None:
        recover(study, folder, plan, say)
        if not more_needed(study, plan):
            study.stop()

    recover(study, folder, plan, say)
    if more_needed(study, plan):
        # a search goes on past a trial that failed; a sweep stops at it, as it always did
        catch = (ZooError,) if plan.grid is None else ()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is already reported")
            warnings.filterwarnings("ignore", message=".*GridSampler.*re-evaluating")
            study.optimize(objective, callbacks=[enough], catch=catch)
    return study


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    """The mean and the sample standard deviation (n - 1; 0 for one value). A value that is not
    finite (a seed that never reached a seconds_to target) makes the mean infinite, sd None."""
    import statistics

    if not all(math.isfinite(v) for v in values):
        return math.inf, None
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else 0.0)


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _shown(url: str) -> str:
    """A storage URL with its password left out."""
    head, at, rest = url.rpartition("@")
    if not at:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}@{rest}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
