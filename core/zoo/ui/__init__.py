"""``zoo ui``: a local web page over the catalog, the runs under one folder and trying a model.

The app (:mod:`zoo.ui.app`) needs the ``ui`` extra (Starlette, uvicorn and plotly, whose own
JavaScript draws the curves); this module imports none of them until :func:`serve` runs, so
``zoo --help`` stays fast and a missing extra is one line saying how to install it.
"""

from __future__ import annotations

import importlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import ZooError

EXTRA = "pip install 'torch-zoo[ui]'"
LOCAL = ("127.0.0.1", "localhost", "::1")


def serve(
    folder: str | Path = ".",
    host: str = "127.0.0.1",
    port: int = 8765,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> None:
    """Serve zoo ui for the runs under ``folder`` on ``host``:``port`` (``0``: any free port)
    until interrupted; ``say`` gets the URL once the port is open, ``warn`` a warning when
    ``host`` is not this machine only."""
    try:
        import uvicorn

        from .app import build_app
    except ImportError as exc:
        raise ZooError(f"zoo ui needs its extra ({exc.name} is missing): {EXTRA}") from None
    root = Path(folder)
    if not root.is_dir():
        raise ZooError(f"{folder} is not a folder: zoo ui serves the runs under one")
    sock = _listen(host, port)
    bound = sock.getsockname()[1]
    local = host in LOCAL
    allowed = ["127.0.0.1", "localhost", "[::1]"] if local else ["*"]
    app = build_app(root, allowed)
    shown = f"[{host}]" if ":" in host else host
    say(f"zoo ui: the runs under {root.resolve()} and the catalog at http://{shown}:{bound}/")
    say("zoo ui: Ctrl-C stops it")
    if not local:
        warn(
            f"zoo ui: warning: listening on {host}, not this machine only: anyone who reaches "
            "it can see your runs and run your models"
        )
    # torch is imported while the first pages are read: the first prediction need not wait ~1 s
    threading.Thread(target=importlib.import_module, args=("torch",), daemon=True).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``, or one line saying why there is none."""
    if not 0 <= port <= 65535:
        raise ZooError(f"--port {port}: expected 0 to 65535 (0: any free port)")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ZooError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = ": choose another with --port" if port else ""
        raise ZooError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.listen(128)
    return sock
