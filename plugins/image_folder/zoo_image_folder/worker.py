"""A worker process of a preparation (started by :class:`zoo_image_folder.pool.Workers`): one
chunk of pictures to decode a line of JSON on stdin, its headers and failures a line on stdout."""

from __future__ import annotations

import json
import signal
import sys


def main() -> None:
    from .decode import prepare_chunk

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it ends the workers
    for line in sys.stdin:
        task = json.loads(line)
        task["size"] = tuple(task["size"])
        try:
            heads, failures = prepare_chunk(**task)
        except Exception as exc:  # the prepared copy itself (a full disk...): said by the caller
            text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {text}"}) + "\n")
        else:
            sys.stdout.write(json.dumps({"heads": heads, "failures": failures}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
