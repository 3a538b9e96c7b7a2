"""``zoo ui``: a local web page over the catalog, the runs under one folder and trying a model.

The app (:mod:`zoo.ui.app`) needs the ``ui`` extra (Starlette, uvicorn and plotly, whose own
JavaScript draws the curves); this module imports none of them until :func:`serve` runs, so
``zoo --help`` stays fast and a missing extra is one line saying how to install it.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ZooError
from ..text import shown

EXTRA = "pip install 'torch-zoo[ui]'"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def serve(
    folder: str | Path = ".",
    host: str = "127.0.0.1",
    port: int = 8765,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
    allow_hosts: Sequence[str] = (),
) -> None:
    """Serve zoo ui for the runs under ``folder`` on ``host``:``port`` (``0``: any free port)
    until interrupted; ``say`` gets the URL once the port is open, ``warn`` a warning when
    other machines can reach ``host``. Browsers must call the server by a name of this
    machine's (the address it listens on, ``localhost`` for a loopback one, the machine's own
    names) or one of ``allow_hosts``: a page elsewhere that renames itself (DNS rebinding) is
    refused whatever the address."""
    try:
        import uvicorn

        from .app import build_app
    except ImportError as exc:
        raise ZooError(f"zoo ui needs its extra ({exc.name} is missing): {EXTRA}") from None
    root = Path(folder)
    if not root.is_dir():
        raise ZooError(f"{folder} is not a folder: zoo ui serves the runs under one")
    extra = [_host_name(name) for name in allow_hosts]
    sock = _listen(host, port)
    bound = sock.getsockname()[1]
    allowed, reachable = host_names(host, sock)
    app = build_app(root, sorted(allowed | set(extra)))
    url = f"[{host}]" if ":" in host else host
    say(f"zoo ui: the runs under {root.resolve()} and the catalog at http://{url}:{bound}/")
    say("zoo ui: Ctrl-C stops it")
    if reachable:
        names = ", ".join(sorted(allowed | set(extra)))
        warn(
            f"zoo ui: warning: listening on {host}, which other machines can reach: anyone who "
            f"reaches it can see your runs and run your models (it answers to {names}; "
            "--allow-host NAME adds a name)"
        )
    # torch is imported while the first pages are read: the first prediction need not wait ~1 s
    threading.Thread(target=importlib.import_module, args=("torch",), daemon=True).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def host_names(host: str, sock: socket.socket) -> tuple[set[str], bool]:
    """The names a browser may call a server listening on ``host`` by (as a Host header holds
    them: an IPv6 address in brackets), and whether machines other than this one can reach it
    (an address that is not a loopback one)."""
    addresses = {ipaddress.ip_address(sock.getsockname()[0].split("%")[0])}
    with contextlib.suppress(OSError, ValueError):
        for *_, address in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
            addresses.add(ipaddress.ip_address(str(address[0]).split("%")[0]))
    names = {_literal(host)} | {_literal(str(a)) for a in addresses}
    if any(a.is_loopback or a.is_unspecified for a in addresses):
        names |= set(LOOPBACK_NAMES)
    reachable = any(not a.is_loopback for a in addresses)
    if reachable:  # the machine's own names and addresses, as other machines call it
        machine = {socket.gethostname(), socket.getfqdn()}
        names |= {n for n in machine if n}
        for name in machine:
            with contextlib.suppress(OSError, ValueError):
                for *_, address in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
                    names.add(_literal(str(address[0]).split("%")[0]))
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.connect(("192.0.2.1", 9))  # sends nothing: the address of the way out, if any
            names.add(udp.getsockname()[0])
    return {n.lower() for n in names if n}, reachable


def _literal(host: str) -> str:
    """``host`` as a Host header writes it: an IPv6 address in brackets."""
    return f"[{host.strip('[]')}]" if ":" in host else host


def _host_name(name: str) -> str:
    """A name given to --allow-host: a host name or an address, nothing else."""
    plain = name.strip("[]")
    with contextlib.suppress(ValueError):
        return _literal(str(ipaddress.ip_address(plain)))
    label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    if not re.fullmatch(rf"{label}(?:\.{label})*\.?", name) or len(name) > 253:
        raise ZooError(f"--allow-host {shown(name)}: expected a host name or an address")
    return name.lower().rstrip(".")


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
