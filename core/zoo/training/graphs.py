"""CUDA graphs for static training steps: the whole step (forward, loss, backward, optimizer step)
captured once with torch's CUDA graph API and replayed for every batch of the same shape, so the
GPU is no longer waiting for Python to launch each of its small kernels.

A graph replays the exact kernels of the eager step on the same tensors: the parameters, the
optimizer's state and the gradients stay where they are, and only the batch is copied into the
graph's input. Capturing needs a few warm-up steps (torch allocates the optimizer's state and
picks its kernels there); they run on copies of nothing but the batch, and every parameter,
buffer, optimizer tensor and random stream is put back afterwards, so a run with graphs makes the
same steps as one without. What a graph cannot hold runs eagerly: the epoch's last, shorter batch
(another shape), and any recipe :func:`plan` finds it cannot capture, with the reason in one
line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .device import autocast


def plan(
    setting: bool | str,
    *,
    device: torch.device,
    in_memory: bool,
    optimizer: torch.optim.Optimizer,
    per_step_scheduler: bool,
    scaler: Any,
    accumulate: int,
    compiled: bool,
    world: int,
) -> tuple[bool, str]:
    """Whether the training step can be captured (``setting`` is the run's ``cuda_graphs``), and
    if not, why (empty when it was not asked for)."""
    if setting is False:
        return False, ""
    reasons = []
    if device.type != "cuda":
        reasons.append(f"they need a CUDA device, this run is on {device.type}")
    if not in_memory:
        reasons.append("the training data is not a tensor in memory")
    if world > 1:
        reasons.append("the run trains in several processes")
    if compiled:
        reasons.append("the model is compiled (compile: true)")
    if accumulate > 1:
        reasons.append("gradients are accumulated over several batches")
    if scaler is not None:
        reasons.append("fp16's loss scaling checks for overflow on the CPU after every step")
    capturable = bool(optimizer.defaults.get("capturable", False))
    if isinstance(optimizer, torch.optim.SGD) and optimizer.defaults.get("dampening", 0):
        reasons.append("SGD's dampening makes a first step unlike the others")
    if not isinstance(optimizer, torch.optim.SGD) and not capturable:
        reasons.append(
            f"{type(optimizer).__name__} is not capturable (--set optimizer.capturable=true)"
        )
    if per_step_scheduler and not capturable:
        reasons.append(
            "a per-step scheduler changes the learning rate every step, which only a capturable "
            "optimizer (Adam or AdamW with capturable=true) reads from the device"
        )
    if not reasons:
        return True, ""
    return False, "cuda_graphs: running eagerly, since " + "; ".join(reasons)


class GraphStep:
    """One training step captured as a CUDA graph: ``step(x, y)`` copies the batch in, replays
    forward, loss, backward and the optimizer's step, and returns the batch's loss (a new
    tensor). It is captured on the first batch it is given, and again when the learning rate
    changes under an optimizer that bakes it into its kernels (SGD; an epoch's scheduler)."""

    WARMUP = 3

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        dtype: torch.dtype | None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.criterion = criterion
        self.dtype = dtype
        self.graph: torch.cuda.CUDAGraph | None = None
        self.shape: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        self.lrs: list[float] = []
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None
        self.loss: torch.Tensor | None = None
        self.device = next(model.parameters()).device
        self.failed = ""  # why capturing failed, if it did: the trainer then runs eagerly
        if optimizer.defaults.get("capturable", False):  # it reads the rate from the device
            for group in optimizer.param_groups:
                group["lr"] = torch.tensor(float(group["lr"]), device=self.device)

    def fits(self, x: torch.Tensor, y: torch.Tensor) -> bool:
        """Whether this batch has the captured shape (the first batch sets it), and capturing
        has not failed."""
        if self.failed:
            return False
        return self.shape is None or (tuple(x.shape), tuple(y.shape)) == self.shape

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        """The batch's loss, or ``None`` when the step could not be captured (``failed`` says
        why; nothing was changed: the caller takes the eager step)."""
        lrs = self._rates()
        if self.graph is None or (lrs != self.lrs and not self._reads_rate()):
            try:
                self._capture(x, y)
            except Exception as exc:  # torch's refusal to capture something: eager instead
                self.failed = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
                self.graph = None
                return None
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()
        return self.loss.detach().clone()

    def _reads_rate(self) -> bool:
        return all(isinstance(g["lr"], torch.Tensor) for g in self.optimizer.param_groups)

    def _rates(self) -> list[float]:
        if self._reads_rate():
            return []  # read on the device, never baked in
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def _body(self) -> None:
        with autocast(self.device, self.dtype, cache=False):
            loss = self.criterion(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        self.loss = loss

    def _capture(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Warm up on a side stream, put everything back, then capture the step."""
        self.x, self.y = x.clone(), y.clone()
        saved = self._snapshot()
        try:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                for _ in range(self.WARMUP):
                    self.optimizer.zero_grad(set_to_none=True)
                    self._body()
            torch.cuda.current_stream(self.device).wait_stream(side)
            self._restore(saved)
            self.optimizer.zero_grad(set_to_none=True)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._body()
        except BaseException:
            torch.cuda.synchronize(self.device)
            self._restore(saved)  # the run goes on eagerly from where it was
            self.optimizer.zero_grad(set_to_none=True)
            raise
        self.graph = graph
        self.shape = (tuple(x.shape), tuple(y.shape))
        self.lrs = self._rates()

    def _snapshot(self) -> dict[str, Any]:
        """Copies of what the warm-up changes: the model's tensors, the optimizer's state (and
        which of it does not exist yet), the random streams."""
        state = self.optimizer.state
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        return {
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": {
                id(p): {k: v.clone() if torch.is_tensor(v) else v for k, v in state[p].items()}
                for p in params
                if p in state
            },
            "rng": (torch.get_rng_state(), torch.cuda.get_rng_state(self.device)),
        }

    def _restore(self, saved: dict[str, Any]) -> None:
        """Everything as it was before the warm-up, in the same tensors (a graph keeps their
        addresses). Optimizer state the warm-up created is set to what a first step starts from:
        zeros, and a step count of 0."""
        with torch.no_grad():
            for key, value in self.model.state_dict().items():
                value.copy_(saved["model"][key])
            for group in self.optimizer.param_groups:
                for p in group["params"]:
                    before = saved["optimizer"].get(id(p))
                    for key, value in self.optimizer.state.get(p, {}).items():
                        if not torch.is_tensor(value):
                            if before is not None and key in before:
                                self.optimizer.state[p][key] = before[key]
                            continue
                        if before is not None and key in before:
                            value.copy_(before[key])
                        else:
                            value.zero_()
        torch.set_rng_state(saved["rng"][0])
        torch.cuda.set_rng_state(saved["rng"][1], self.device)
