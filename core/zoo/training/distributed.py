"""Training on several processes with PyTorch's own engine: torch.distributed, launched by
torchrun (``torch.distributed.run``). Each process ("rank") trains a disjoint shard of every
epoch; DistributedDataParallel averages the gradients; metrics are reduced over all ranks; only
rank 0 prints and writes files.

    zoo run cnn --nproc-per-node 2                       # one machine, 2 processes
    torchrun --nnodes 2 --nproc-per-node 4 ... -m zoo run cnn   # several machines

On one machine zoo starts the processes itself (``launch``): each runs ``python -m zoo.worker``
with the call to repeat, as JSON.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

#: How long a rank waits in a collective for the others before it fails (a dead peer).
TIMEOUT = timedelta(seconds=float(os.environ.get("ZOO_DIST_TIMEOUT", "120")))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def active() -> bool:
    """Whether this process is one of several started by torchrun."""
    return world_size() > 1


def init(device_type: str) -> Any:
    """Join the process group (gloo on CPU, nccl on CUDA) and return this rank's device."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=TIMEOUT)
    if device_type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device(device_type)


def barrier() -> None:
    if active():
        import torch.distributed as dist

        dist.barrier()


def all_sum(*values: Any) -> list[Any]:
    """Sum tensors (0-d) over all ranks, in one collective."""
    import torch

    stacked = torch.stack([v.to(torch.float64) for v in values])
    if active():
        import torch.distributed as dist

        dist.all_reduce(stacked)
    return list(stacked.unbind())


def sum_in_place(*tensors: Any) -> None:
    """Sum tensors of any shape over all ranks, each in place (a metric's counts)."""
    if active():
        import torch.distributed as dist

        for tensor in tensors:
            dist.all_reduce(tensor)


def weights_in_sync(model: Any) -> bool:
    """Whether every rank holds the same weights (a checksum compared across ranks)."""
    import torch
    import torch.distributed as dist

    total = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
    gathered = [torch.zeros_like(total) for _ in range(world_size())]
    dist.all_gather(gathered, total)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def launch(nproc: int, module: str, args: list[str]) -> None:
    """Run ``python -m MODULE ARGS`` in ``nproc`` processes on this machine through torchrun."""
    from torch.distributed.run import get_args_parser, run

    from ..errors import ZooError

    # torchrun's default is 1 thread per process, with a warning banner; share the cores instead
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    options = get_args_parser().parse_args(
        ["--standalone", "--nproc-per-node", str(nproc), "--module", module, *args]
    )
    try:
        run(options)
    except Exception as exc:  # torchrun's ChildFailedError: one rank failed
        raise ZooError(
            f"a rank of the {nproc}-process run failed: {str(exc).strip()[:500]}"
        ) from exc


def cleanup() -> None:
    if active():
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()  # leave together: a rank tearing down while another still talks
            dist.destroy_process_group()  # aborts the process ("terminate called")
