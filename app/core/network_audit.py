"""A record of every network connection a Hearth process tries (``HEARTH_NETWORK_AUDIT``).

Hearth opens no connection unless the user acts (Discover, downloads). To prove it, set
``HEARTH_NETWORK_AUDIT=FILE``: the GUI process and every engine process (which inherit the
variable) append one line per attempt — a name lookup, a connect or a send to an Internet
address — to FILE, through a Python audit hook. Local sockets (Unix domain, socket pairs)
are not network. The attempt itself goes ahead; the record is what a test checks.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

ENV = "HEARTH_NETWORK_AUDIT"
_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
           "socket.gethostbyname", "socket.gethostbyaddr"}
_INET = (socket.AF_INET, socket.AF_INET6)
_target: Path | None = None
_lock = threading.Lock()
_hooked = False


def install(target: str | os.PathLike[str] | None) -> None:
    """Record attempts into ``target`` from now on (None stops recording).

    An audit hook cannot be removed, so one hook is added once and looks up the target.
    """
    global _hooked, _target
    _target = Path(target) if target else None
    if target and not _hooked:
        sys.addaudithook(_hook)
        _hooked = True


def install_from_environment() -> None:
    """Record when ``HEARTH_NETWORK_AUDIT`` names a file (every Hearth process calls this)."""
    target = os.environ.get(ENV)
    if target:
        install(target)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    target = _target
    if target is None or event not in _EVENTS:
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock = args[0]
        if getattr(sock, "family", None) not in _INET:
            return
        what = f"{event} {args[1]!r}" if len(args) > 1 else event
    else:
        what = f"{event} {args[0]!r}"
    caller = "".join(traceback.format_stack(limit=8)[:-1]).replace("\n", " | ")
    with _lock, target.open("a", encoding="utf-8") as handle:
        handle.write(f"pid {os.getpid()}: {what} from {caller}\n")
