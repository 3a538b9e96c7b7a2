"""What each process of a distributed run executes: ``zoo.train`` or ``zoo.resume`` with
``nproc_per_node`` > 1 start ``python -m zoo.worker SPEC`` through torchrun, and each process
makes the same call (SPEC, as JSON) as one rank of the run. Errors end the process with one line,
as the ``zoo`` command does."""

from __future__ import annotations

import json
import os
import sys

from . import api
from .errors import ZooError
from .text import terminal


def main(argv: list[str] | None = None) -> None:
    spec = json.loads((argv if argv is not None else sys.argv[1:])[0])
    call = {"train": api.train, "resume": api.resume}[spec["call"]]
    try:
        call(**spec["kwargs"])
    except ZooError as exc:
        if os.environ.get("ZOO_DEBUG") == "1":
            raise
        print(f"Error: {terminal(exc)}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt as exc:
        if str(exc):
            print(f"\n{terminal(exc)}", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
