"""The run owner: one training run, from its config to its last epoch, in the order it happens.

    with Trainer.start(config, catalog, out=..., verbose=True) as trainer:  # or .resume(dir)
        run = trainer.fit()                                                  # a zoo.Run

prepare (device, threads, seeds, data, model, optimizer), then for each epoch: train, validate,
checkpoint, record the metrics line, draw the curves; then finish (the best epoch). The batches are
``loop``'s, the files ``zoo.runs``'s; the history is this object's alone and is what every
checkpoint saves and what the returned ``Run`` holds. In a distributed run every rank trains, and
only rank 0 writes files and prints; it holds the run directory's lock until the trainer closes.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .. import config as configs
from ..config import RunConfig
from ..errors import ConfigError, DataError, Interrupted, ZooError
from ..hints import did_you_mean
from ..hookspecs import Callback, Metric, Splits
from ..plugins.manager import Catalog
from ..runs import checkpoints, directory, fitting, metrics, pictures, weights
from ..runs.rundir import DONE, RunDir
from ..runs.trained import Run, measure, open_run
from . import device as devices
from . import distributed, graphs, loop, parts, randomness
from . import progress as report
from .augment import Augmenter


class Diverged(ZooError):
    """The loss became NaN or infinite."""


def _data_moved(
    config: RunConfig, overrides: configs.Overrides | None, catalog: Catalog
) -> RunConfig | None:
    """``config`` with ``zoo resume --set dataset.KEY=VALUE`` (where the data is now) applied;
    ``None`` when there are no such overrides."""
    rest = "the rest stays what the run was trained with"
    if not configs.check_data_overrides(overrides, "zoo resume", "now", rest):
        return None
    return configs.revise(config, overrides, catalog.registries)


@contextlib.contextmanager
def _data_hint(run_dir: Path) -> Any:
    """A resumed run whose data is not where it was: the error says how to say where it is."""
    try:
        yield
    except DataError as exc:
        raise DataError(
            f"{exc} (if the data moved: zoo resume {run_dir} --set dataset.path=WHERE_IT_IS_NOW)"
        ) from exc


class RateSteps:
    """A scheduler stepped after every optimizer step (onecycle, cosine with warm-up), and the
    learning rate it set, :data:`~zoo.runs.metrics.LR_STEPS` times an epoch: the metrics row's
    ``lr_steps`` (what the page's curve of the rate draws within each epoch). ``step`` is
    ``None`` for a scheduler stepped per epoch, or none: then there is nothing to record."""

    def __init__(self, optimizer: Any, scheduler: Any, interval: str, steps: int) -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler if interval == "step" else None
        self.every = max(1, steps // metrics.LR_STEPS)
        self.rates: list[float] = []
        self.count = 0
        self.step = self._step if self.scheduler is not None else None

    def begin(self) -> None:
        self.rates = [self._rate()] if self.scheduler is not None else []
        self.count = 0

    def _rate(self) -> float:
        return float(f"{float(self.optimizer.param_groups[0]['lr']):.8g}")

    def _step(self) -> None:
        self.scheduler.step()
        self.count += 1
        if self.count % self.every == 0 and len(self.rates) <= metrics.LR_STEPS:
            self.rates.append(self._rate())

    def row(self) -> dict[str, Any]:
        return {metrics.LR_STEPS_KEY: self.rates} if self.rates else {}


class Trainer:
    """Owns one run: its config, its parts (data, model, optimizer...), its directory and its
    history. Make one with :meth:`start` or :meth:`resume`, then call :meth:`fit`."""

    def __init__(
        self,
        config: RunConfig,
        catalog: Catalog,
        *,
        run_dir: Path | None = None,
        history: list[dict[str, Any]] | None = None,
        keep_last: int = 1,
        progress: bool = False,
        verbose: bool = False,
        watchers: Sequence[Callback] = (),
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.dir = run_dir
        self.files = RunDir(run_dir) if run_dir is not None else None
        self.history = history if history is not None else []
        self.keep_last = keep_last
        main = distributed.is_main()
        self.verbose = verbose and main
        self.say = report.say if self.verbose else report.quiet
        self.bar = report.Bar if progress and main else None
        self.held = contextlib.ExitStack()  # the run directory's lock, on rank 0
        self.trained_on: str | None = None  # a resumed run's device before, as env.json said
        self.stopped: str | None = None  # why a callback ended the run early
        # the parts, made by prepare(); raw_model is the nn.Module itself, model what trains
        # (raw_model, or its DDP or compiled wrapper)
        self.device = torch.device("cpu")
        self.splits: Splits | None = None
        self.raw_model: torch.nn.Module | None = None
        self.model: torch.nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.criterion: Any = None
        self.metrics: list[tuple[str, Metric]] = []
        self.scheduler: Any = None
        self.interval = "epoch"  # when the scheduler steps: after each epoch or each step
        self.callbacks: list[Callback] = []
        # what watches this process's epochs from outside the run (a search's trial): called as
        # callbacks are, after them, but not part of the run's config nor saved in checkpoints
        self.watchers: list[Callback] = list(watchers)
        self.shuffler = torch.Generator()
        self.augmenter: Augmenter | None = None  # the run's batch transforms, if it names any
        self.train_batches: loop.Batches | None = None
        self.valid_batches: loop.Batches | None = None
        self.steps_per_epoch = 0
        self.scaler: torch.amp.GradScaler | None = None
        self.row_keys: list[str] = []  # the keys of a metrics row
        self.columns: list[str] = []  # the table's columns beyond zoo's own
        self.graph: graphs.GraphStep | None = None
        self.graphs_wanted = False

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the run directory, and in a distributed run of the process group (the one
        place that ends it, whether the run finished or failed): the DDP
        wrapper (whose buffers the group's threads may still hold) goes first, so that no rank
        tears it down at interpreter exit (an abort, seen about once in twenty runs)."""
        if self.dir is not None and distributed.is_main():
            self.files.clear_progress()  # no epoch is in progress any more
        self.held.close()
        if distributed.active():
            self.model = self.raw_model
            gc.collect()
            distributed.cleanup()

    def hold(self, run_dir: Path) -> None:
        """Take the run directory for this process (rank 0 of a distributed run)."""
        self.dir, self.files = Path(run_dir), RunDir(run_dir)
        if distributed.is_main():
            self.held.enter_context(self.files.lock())

    @property
    def epochs(self) -> int:
        return self.config.epochs

    # --- the two ways a run begins --------------------------------------------------------------

    @classmethod
    def start(
        cls, config: RunConfig, catalog: Catalog, *, out: str | Path | None = None, **how: Any
    ) -> Trainer:
        """A new run of ``config`` (resolved and checked), its directory made and described."""
        trainer = cls(config, catalog, **how)
        trainer.say(f"zoo run {config.name}: {report.summary(config)}")
        with trainer.closed_on_error():  # the process group too, when one was begun
            trainer.prepare()  # a mistake or a failed download here leaves no run directory
            trainer.say(f"  {trainer.summary()}")
            if distributed.is_main():  # only rank 0 writes
                trainer.hold(directory.make_run_dir(config.name, out))
                trainer.write_start()
                trainer.say(f"  writing {trainer.dir}")
        return trainer

    @contextlib.contextmanager
    def closed_on_error(self) -> Any:
        try:
            yield
        except BaseException:
            self.close()
            raise

    def write_start(self, device: str | None = None) -> None:
        """config.yaml, model.json and env.json: what the run is, before its first epoch."""
        info = directory.model_info(self.config, self.splits)
        info |= measure(self.raw_model, self.splits.input_shape)  # parameters, flops
        device = device or str(self.device)
        self.files.write_start(self.config, info, device, self.catalog.plugins.values())

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        catalog: Catalog,
        *,
        epochs: int | None = None,
        device: str | None = None,
        overrides: configs.Overrides | None = None,
        **how: Any,
    ) -> Trainer:
        """The run in ``run_dir`` restored to its last complete checkpoint: weights, optimizer,
        every random stream, and metrics.jsonl cut back to the checkpoint's epochs. A run that
        died before its first checkpoint starts again from epoch 1 in the same directory.
        ``overrides`` may say where the data is now (``dataset.*`` but its name), nothing else."""
        run_dir = Path(run_dir)
        folder = RunDir(run_dir)
        config = configs.recorded(folder.config, overrides)
        planned = config.epochs
        config = config.replace(epochs=epochs or planned)
        schedule = config.scheduler
        if schedule and config.epochs != planned:
            entry = catalog.registries["schedulers"].get(schedule.name)
            if {"epochs", "steps_per_epoch"} & set(entry.parameters):
                raise ConfigError(
                    f"{run_dir}'s scheduler '{schedule.name}' is planned over its "
                    f"{planned} epochs: --epochs {epochs} cannot stretch it; start a new run "
                    f"from these weights instead (zoo run NAME --init {run_dir})"
                )
        moved = _data_moved(config, overrides, catalog)
        config = moved or config
        wanted = str(device or config.device)
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(
                f"{run_dir} was trained on {wanted}, which this machine does not have: zoo resume "
                f"{run_dir} --device cpu continues it on the CPU (its numbers will not be "
                "bit-identical to an uninterrupted run's)"
            )
        trainer = cls(config, catalog, **how)
        with trainer.closed_on_error(), _data_hint(run_dir):
            trainer.hold(run_dir)
            standing = folder.standing(config.epochs)  # read once, under the lock
            if standing.status == "broken":
                raise ZooError(f"{run_dir} cannot be resumed: {standing.reason}")
            point = standing.checkpoint
            if point is None:
                return trainer.restart(device)
            state = folder.state(point)
            trainer.history = state["history"]
            trainer.stopped = state.get("stopped")
            complete = standing.status in DONE
            trainer.trained_on = folder.trained_device  # before env.json is rewritten
            if not complete:  # every part of the saved state checked before anything is written
                trainer.restore(point, state, device)
            if (epochs is not None or moved) and distributed.is_main():
                info, plugins = folder.model_info, catalog.plugins.values()
                folder.write_start(config, info, device or "auto", plugins)
            if complete:
                # a kill between the last checkpoint and its metrics line left that line out:
                # the checkpoint's history is the record
                if distributed.is_main() and folder.history() != trainer.history:
                    folder.rewrite(trainer.history)
                return trainer  # fit() says it is complete, nothing to load
            trainer.tidy(point)
        return trainer

    def restart(self, device: str | None) -> Trainer:
        """A run killed before its first checkpoint: the same config, from epoch 1."""
        self.say(f"zoo resume {self.dir}: no epoch had finished; starting it again from epoch 1")
        self.prepare(device)
        self.say(f"  {self.summary()}")
        if distributed.is_main():
            self.files.restart()  # what the killed run had begun to write goes
            self.write_start()
        distributed.barrier()
        return self

    def restore(
        self, point: checkpoints.Checkpoint, state: dict[str, Any], device: str | None
    ) -> None:
        """Everything as it was when ``point`` was written, on every rank."""
        self.prepare(device, init=False)  # the checkpoint's weights replace the model's
        checkpoints.load_weights(self.raw_model, point.weights, self.device)
        path = point.state
        with fitting.restoring(path, "optimizer state"):
            problem = fitting.optimizer_problem(self.optimizer, state["optimizer"])
            if problem:
                raise ValueError(problem)
            self.optimizer.load_state_dict(state["optimizer"])
            for group in self.optimizer.param_groups:  # a graph's device-held rate, as a number
                group["lr"] = float(group["lr"])
        with fitting.restoring(path, "random state"):
            randomness.set_rng_state(state["rng"], self.shuffler)  # the same on every rank
        if self.augmenter is not None:
            with fitting.restoring(path, "augmentation state"):
                if "augment" not in state:
                    raise ValueError("the run augments its batches, the checkpoint saved no state")
                self.augmenter.restore(state["augment"])
        parts = [("scaler", self.scaler, state.get("scaler"))]
        parts.append(("scheduler", self.scheduler, state.get("scheduler")))
        saved_callbacks = state.get("callbacks") or []
        if self.callbacks and len(saved_callbacks) != len(self.callbacks):
            raise ZooError(
                f"{path}: it saved {len(saved_callbacks)} callbacks' states, the run "
                f"has {len(self.callbacks)}; nothing was trained or changed"
            )
        parts += [
            (f"callbacks[{i}] state", callback, saved)
            for i, (callback, saved) in enumerate(
                zip(self.callbacks, saved_callbacks, strict=False)
            )
        ]
        for what, part, saved in parts:
            if part is None or saved is None:
                continue
            with fitting.restoring(path, what):
                problem = fitting.same_shape(part.state_dict(), saved)
                if problem:
                    raise ValueError(problem)
                part.load_state_dict(saved)

    def tidy(self, point: checkpoints.Checkpoint) -> None:
        """After a restore: the run directory made to hold exactly the checkpoint's epochs."""
        if distributed.is_main():
            self.files.rewrite(self.history)  # rows past the checkpoint go
            self.files.tidy()  # only what a killed save left half-written
        distributed.barrier()
        self.say(f"zoo resume {self.dir}: from epoch {len(self.history)} of {self.epochs}")
        self.say(f"  {self.summary()}")
        trained_on = self.trained_on
        if trained_on and trained_on.split(":")[0] != self.device.type:
            self.say(
                f"  note: trained on {trained_on}, continued on {self.device}: the numbers will "
                "differ from an uninterrupted run's"
            )
        if not self.config.deterministic:
            self.say(
                "  note: this run is not deterministic (deterministic: false): it is not promised "
                "to end exactly where an uninterrupted run would"
            )
        if distributed.world_size() != point.world_size:
            self.say(
                f"  note: trained in {point.world_size} process(es), continued in "
                f"{distributed.world_size()}: the numbers will differ from an uninterrupted run"
            )

    # --- prepare ---------------------------------------------------------------------------------

    def prepare(self, device: str | None = None, init: bool = True) -> None:
        """Device, threads, data, seeds, model (from the ``init`` weights, when the config names
        them and ``init`` is true), optimizer, batches, recipe: in this order, so the same seed
        gives the same initial weights and the same shuffles whatever the dataset did. Each part
        is built by ``zoo.training.parts``."""
        config, registries = self.config, self.catalog.registries
        start_from = None
        if init and config.init:  # found and verified before any data is loaded
            start_from = weights.trained_from(
                config.init, registries["weights"], "best", registries["models"]
            )
        # before the data too: a callback's missing package (tensorboard) is said first
        self.callbacks = parts.callbacks(config, registries)
        parts.check_augment(config, registries)
        self.device = devices.select_device(device or config.device)
        if distributed.active():
            self.device = distributed.init(self.device.type)
        devices.make_deterministic(self.device, config.deterministic)
        devices.set_threads(config.threads, self.device)
        if not distributed.is_main():
            distributed.barrier()  # rank 0 downloads and prepares the data; the others wait...
        self.splits = parts.dataset(config, registries, progress=self.verbose)
        if distributed.is_main():
            distributed.barrier()  # ...then read it from the cache
        randomness.seed_everything(config.seed)
        self.raw_model = parts.model(
            config, registries, self.splits, self.device, init=start_from, say=self.say
        )
        self.optimizer = parts.optimizer(config, registries, self.raw_model)
        self.shuffler = torch.Generator().manual_seed(config.seed)  # its own: init leaves it be
        self.augmenter = parts.augment(config, registries, self.splits, self.device)
        self.train_batches, self.valid_batches = self.batches()
        self.steps_per_epoch = math.ceil(len(self.train_batches) / config.accumulate)
        self.recipe(registries)
        self.model = self.raw_model
        if distributed.active():  # same seed, same weights; DDP also broadcasts rank 0's
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.raw_model, device_ids=ids)
        self.scaler = devices.grad_scaler(self.device, config.amp)
        if config.compile:
            # static shapes: a batch of the training shape and the epoch's last one are two
            # compilations, once each, never a dynamic-shape graph that is slower to run
            self.model = torch.compile(self.model, dynamic=False)
            if self.device.type == "cpu":
                self.say(
                    "  note: compile on the CPU did not pay for zoo's built-in models (0.76-1.03x "
                    "an eager epoch, plus 4-9 s of compiling: python benchmarks/compile.py)"
                )
        self.graph = None
        self.graphs_wanted, why_not = graphs.plan(
            config.cuda_graphs,
            device=self.device,
            in_memory=self.train_batches.tensors is not None,
            optimizer=self.optimizer,
            per_step_scheduler=self.interval == "step" and self.scheduler is not None,
            scaler=self.scaler,
            accumulate=config.accumulate,
            compiled=config.compile,
            world=distributed.world_size(),
        )
        if why_not and config.cuda_graphs is True:  # asked by name: say why not (auto is quiet)
            self.say(f"  {why_not}")

    def recipe(self, registries: Any) -> None:
        """The loss, the chosen metrics and the learning-rate scheduler, from their plugins."""
        config, splits = self.config, self.splits
        self.criterion = parts.loss(config, registries, splits)
        self.metrics = parts.metrics(config, registries, splits)
        self.scheduler, self.interval = parts.scheduler(
            config, registries, self.optimizer, self.steps_per_epoch
        )
        self.check_learning_rates("before the first epoch")
        self.stopped = None
        self.row_keys = [
            *metrics.ROW_KEYS,
            *(f"val_{key}" for key, _ in self.metrics if key != "acc"),
        ]
        # the table shows the chosen metrics that are one number, and the learning rate when a
        # scheduler changes it
        self.columns = [f"val_{key}" for key, m in self.metrics if key != "acc" and m.scalar]
        self.columns += ["lr"] if self.scheduler is not None else []
        watchers = [("monitor", config), ("scheduler", self.scheduler)]
        watchers += [(f"callbacks[{i}]", c) for i, c in enumerate(self.callbacks)]
        for where, part in watchers:  # a part watching a number names one the rows will have
            monitor = getattr(part, "monitor", None)
            if isinstance(monitor, str) and monitor not in self.row_keys:
                hint = did_you_mean(monitor, self.row_keys)
                where = where if where == "monitor" else f"{where}.monitor"
                raise ConfigError(
                    f"{where}: '{monitor}' is not in the metrics rows{hint} (they have: "
                    f"{', '.join(self.row_keys)})"
                )

    def summary(self) -> str:
        params = sum(p.numel() for p in self.raw_model.parameters())
        return (
            f"{len(self.splits.train):,} train / {len(self.splits.valid):,} valid samples, "
            f"{params:,} parameters, device {self.device}"
        )

    # --- the epochs ------------------------------------------------------------------------------

    def fit(self) -> Run:
        """Train to the configured epochs; returns the run with its history and trained model."""
        if self.stopped:
            done = len(self.history)
            self.say(
                f"{self.dir} is stopped (complete by its own rule) after {done} "
                f"epoch{'s' * (done != 1)}: {self.stopped}"
            )
            return open_run(self.dir, self.catalog.registries["models"])
        if len(self.history) >= self.epochs:
            self.say(
                f"{self.dir} is complete: {len(self.history)} of {self.epochs} "
                f"epoch{'s' * (self.epochs != 1)} "
                "(zoo resume --epochs N trains further)"
            )
            return open_run(self.dir, self.catalog.registries["models"])
        world, amp = distributed.world_size(), self.config.amp
        if world > 1:
            self.say(f"  {world} processes (ranks), global batch {self.config.batch_size}")
        self.say(report.header(self.columns))
        for row in self.history:
            self.say(report.row_text(row, self.columns))
        train_batches, valid_batches = self.train_batches, self.valid_batches
        rates = RateSteps(self.optimizer, self.scheduler, self.interval, self.steps_per_epoch)
        chosen = [metric for _, metric in self.metrics]
        for callback in [*self.callbacks, *self.watchers]:
            callback.on_start(self)
        try:
            for epoch in range(len(self.history) + 1, self.epochs + 1):
                start = time.perf_counter()
                rates.begin()
                with self.progress(epoch, train_batches) as bar:
                    train_loss = loop.train_epoch(
                        self.model,
                        self.optimizer,
                        train_batches,
                        progress=bar,
                        amp=amp,
                        scaler=self.scaler,
                        criterion=self.criterion,
                        accumulate=self.config.accumulate,
                        after_step=rates.step,
                        graph=self.graph_step(),
                        augment=self.augmenter,
                    )
                self.say_graph_failure()
                train_seconds = time.perf_counter() - start
                val_loss, val_acc = loop.evaluate(
                    self.model, valid_batches, amp=amp, criterion=self.criterion, metrics=chosen
                )
                self.check_finite(epoch, train_loss, val_loss)
                row = metrics.row(
                    epoch,
                    train_loss,
                    val_loss,
                    val_acc,
                    seconds=time.perf_counter() - start,
                    samples_per_s=train_batches.size * world / train_seconds,
                    lr=self.optimizer.param_groups[0]["lr"],
                )
                row |= rates.row()
                row |= {f"val_{key}": metric.compute() for key, metric in self.metrics}
                self.end_epoch(row)
                self.history.append(row)
                self.record(row)
                for callback in [*self.callbacks, *self.watchers]:
                    saved = getattr(callback, "on_saved", None)  # older callbacks have none
                    if saved is not None:
                        saved(self, row)
                self.say(report.row_text(row, self.columns))
                if self.stopped:
                    self.say(self.stopped)
                    break
        except KeyboardInterrupt:
            raise Interrupted(self.interrupted_message()) from None
        except ZooError as exc:
            if self.dir is None or not self.history:  # nothing to resume from: no hint
                raise
            raise ZooError(
                f"{exc}\n  (run directory: {self.dir}; zoo resume {self.dir} continues "
                "from the last good checkpoint)"
            ) from exc
        return self.finish()

    def graph_step(self) -> graphs.GraphStep | None:
        """The training step as a CUDA graph, where the run asks for one (``cuda_graphs``) and
        its recipe allows it; made at the first epoch this process trains, after any restore."""
        if self.graph is None and self.graphs_wanted:
            self.graphs_wanted = False
            dtype = devices.amp_dtype(self.device, self.config.amp)
            self.graph = graphs.GraphStep(self.raw_model, self.optimizer, self.criterion, dtype)
        return self.graph

    def say_graph_failure(self) -> None:
        if self.graph is not None and self.graph.failed:
            self.say(
                f"  cuda_graphs: running eagerly, since capturing failed ({self.graph.failed})"
            )
            self.graph = None

    def end_epoch(self, row: dict[str, Any]) -> None:
        """After an epoch's numbers and before its checkpoint: an epoch scheduler steps, the
        callbacks see the row (and may stop the run). What they change is saved with it."""
        if self.scheduler is not None and self.interval == "epoch":
            monitor = getattr(self.scheduler, "monitor", None)
            if monitor is not None:  # reduce_on_plateau: stepped with the value it watches
                self.scheduler.step(row[monitor])
            else:
                self.scheduler.step()
        for callback in [*self.callbacks, *self.watchers]:
            callback.on_epoch_end(self, row)
        self.check_learning_rates(f"after epoch {row['epoch']}")

    def check_learning_rates(self, when: str) -> None:
        """A learning rate that is negative or not a number trains to garbage without an error
        of torch's: one line instead (a scheduler's option is out of range)."""
        for group in self.optimizer.param_groups:
            lr = float(group["lr"])
            if not math.isfinite(lr) or lr < 0:
                scheduler = self.config.scheduler.name if self.config.scheduler else None
                by = f"scheduler '{scheduler}'" if scheduler else "the optimizer"
                raise ConfigError(
                    f"the learning rate is {lr:g} {when} ({by}): check its options; a learning "
                    "rate is a number of 0 or more"
                )

    def stop(self, reason: str) -> None:
        """End the run after this epoch (a callback's call: early stopping)."""
        self.stopped = reason

    def output_path(self, relative: str | Path, what: str = "a callback's path") -> Path:
        """Where a callback may write its files: ``relative`` inside the run directory (links
        resolved), never over zoo's own files; a :class:`ConfigError` otherwise."""
        return self.files.output_path(relative, what)

    @property
    def env(self) -> dict[str, Any]:
        """The run's provenance (env.json: python, torch, device, hardware, every plugin's
        distribution and version), ``{}`` before the run has a directory."""
        return self.files.env if self.files is not None else {}

    def outputs(self) -> dict[str, Path]:
        """The run's files a logger may copy elsewhere, by name (``RunDir.outputs``)."""
        return self.files.outputs() if self.files is not None else {}

    def card(self) -> dict[str, Any]:
        """The card zoo would publish of the run's best weights now (``zoo new-plugin
        --from-run``'s fields, the test split not measured)."""
        from ..runs.weights import card_fields

        assert self.dir is not None
        model = self.files.model_info["model"]
        return card_fields(self.dir, f"{model}.run")

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files (rank 0)."""
        return distributed.is_main()

    def batches(self) -> tuple[loop.Batches, loop.Batches]:
        """This rank's training batches (its shard, shuffled by the run's own generator) and
        validation batches; the global batch stays ``batch_size`` however many ranks train."""
        shard = (distributed.rank(), distributed.world_size())
        per_rank = max(1, self.config.batch_size // shard[1])
        train = loop.Batches(
            self.splits.train,
            per_rank,
            self.device,
            shuffle=self.config.shuffle,
            generator=self.shuffler,
            shard=shard,
            equal=True,
        )
        valid = loop.Batches(self.splits.valid, self.config.valid_size, self.device, shard=shard)
        return train, valid

    def progress(self, epoch: int, batches: loop.Batches) -> report.Progress:
        """The epoch's progress: a bar where someone watches, and progress.json for zoo ui."""
        label = f"epoch {epoch}/{self.epochs}"
        bar = self.bar(len(batches), label) if self.bar is not None else None
        run_dir = self.dir if distributed.is_main() else None
        samples = batches.size * distributed.world_size()
        return report.Progress(
            bar, run_dir, steps=len(batches), epoch=epoch, epochs=self.epochs, samples=samples
        )

    def check_finite(self, epoch: int, train_loss: float, val_loss: float) -> None:
        if math.isfinite(train_loss) and math.isfinite(val_loss):
            return
        bad = train_loss if not math.isfinite(train_loss) else val_loss
        lr = self.optimizer.param_groups[0].get("lr")
        kept = (
            f"the checkpoint of epoch {epoch - 1} is kept"
            if epoch > 1
            else "no epoch had finished, so there is no checkpoint"
        )
        raise Diverged(
            f"the loss became {bad} in epoch {epoch}: the learning rate ({lr}) is probably too "
            f"high, or the data holds values that are not numbers; try --set optimizer.lr=... "
            f"({kept})"
        )

    def record(self, row: dict[str, Any]) -> None:
        """The epoch's checkpoint, then its metrics line, then the curves: a kill between any
        two resumes exactly (metrics.jsonl is cut back to the checkpoint on resume)."""
        if distributed.is_main():
            state = {
                "optimizer": self.optimizer.state_dict(),
                "rng": randomness.rng_state(self.shuffler),
                "history": self.history,
            }
            if self.augmenter is not None:  # the augmentation's own random stream
                state["augment"] = self.augmenter.state()
            if self.scaler is not None:  # fp16's loss scale: part of an exact resume
                state["scaler"] = self.scaler.state_dict()
            if self.scheduler is not None:
                state["scheduler"] = self.scheduler.state_dict()
            if self.callbacks:
                state["callbacks"] = [callback.state_dict() for callback in self.callbacks]
            if self.stopped:
                state["stopped"] = self.stopped
            best = self.config.best(self.history) is row  # by the run's monitor
            self.files.save(
                row["epoch"],
                self.raw_model,
                state,
                best=best,
                world_size=distributed.world_size(),
                keep_last=self.keep_last,
            )
            self.files.append(row)
            with contextlib.suppress(Exception):  # a failed picture is never worth a failed run
                pictures.curves(self.history, self.files.curves, title=str(self.dir))
        distributed.barrier()  # every rank waits for rank 0's files

    def interrupted_message(self) -> str:
        if self.dir is None:  # ranks other than 0 know no run directory
            return ""
        if not self.history:
            return (
                f"interrupted in epoch 1: no epoch had finished, so {self.dir} has no checkpoint "
                f"yet; zoo resume {self.dir} starts it again from epoch 1"
            )
        done = len(self.history)
        return (
            f"interrupted: the checkpoint of epoch {done} in {self.dir} is intact; "
            f"continue with:\n  zoo resume {self.dir}"
        )

    # --- finish ----------------------------------------------------------------------------------

    def finish(self) -> Run:
        """Check the ranks agree, report the best epoch, hand back the run."""
        world = distributed.world_size()
        if world > 1:
            same = distributed.weights_in_sync(self.raw_model)
            self.say(f"  weights identical on all {world} ranks: {same}")
        for callback in [*self.callbacks, *self.watchers]:
            callback.on_end(self)
        curves = self.files.curves if self.files is not None else "-"
        self.say(f"{report.best_text(self.config, self.history)}; curves in {curves}")
        return Run(self.dir, self.config, self.history, self.raw_model)
