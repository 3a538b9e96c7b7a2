"""The processes that decode pictures for a preparation: each a fresh ``python -m
zoo_image_folder.worker`` reading one chunk to decode a line (JSON) from its stdin and answering
on its stdout. Started this way, and not with ``multiprocessing``'s spawn, because spawn runs the
caller's main module again in every worker: a script without an ``if __name__ == "__main__"``
guard would train again in each, and a notebook or ``python -`` (no file to run) breaks the
pool. Nothing here reads anything but the chunk's paths and writes anything but its rows."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import zoo


class Workers:
    """``count`` worker processes; :meth:`map` hands each chunk to the next free one."""

    def __init__(self, count: int) -> None:
        from multiprocessing.spawn import get_executable  # the interpreter spawn would use

        self.procs = [
            subprocess.Popen(
                [get_executable(), "-m", "zoo_image_folder.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            for _ in range(count)
        ]
        self.free: queue.Queue[subprocess.Popen] = queue.Queue()
        for proc in self.procs:
            self.free.put(proc)
        self.broken = threading.Event()

    def _one(self, task: dict[str, Any]) -> tuple[list, list]:
        proc = self.free.get()
        try:
            if self.broken.is_set():
                raise zoo.DataError("stopped: another worker failed")
            try:
                proc.stdin.write(json.dumps(task) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
            except (BrokenPipeError, OSError):
                line = ""
            if not line:
                self.broken.set()
                first, count = task["first"], len(task["paths"])
                raise zoo.DataError(
                    f"a worker decoding pictures {first:,} to {first + count - 1:,} "
                    f"({task['paths'][0]}...) ended without an answer (exit status "
                    f"{proc.poll()}): a picture there may crash the decoder; try "
                    "dataset.workers=1 to find it"
                )
            answer = json.loads(line)
        finally:
            self.free.put(proc)
        if "error" in answer:
            self.broken.set()
            raise zoo.DataError(f"a worker could not decode its pictures: {answer['error']}")
        heads = [tuple(h) if h is not None else None for h in answer["heads"]]
        return heads, [tuple(f) for f in answer["failures"]]

    def map(self, tasks: Iterable[dict[str, Any]]) -> Iterator[tuple[list, list]]:
        with ThreadPoolExecutor(len(self.procs)) as pool:
            yield from pool.map(self._one, tasks)

    def close(self) -> None:
        for proc in self.procs:
            try:
                proc.stdin.close()
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:  # stopped early: no chunk left half-done matters, end them now
            for proc in self.procs:
                proc.kill()
        self.close()
