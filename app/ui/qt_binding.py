"""Guards against a Qt for Python build that would kill the app mid-reply.

PySide6/shiboken6 6.12.0 on CPython 3.11 drops one reference to ``None`` on every Qt call that
returns nothing (``update()``, ``insertText()``, ``setToolTip()``, ``QTimer.stop()``, …). A
chat window makes thousands of such calls per reply, so within minutes ``None``'s reference
count reaches zero and the interpreter aborts ("Fatal Python error: none_dealloc"), and even
a short session aborts when Python finalises. CPython 3.12 made ``None`` immortal (PEP 683),
so there the lost references are harmless. ``pyproject.toml`` keeps such builds from being
installed; this module is for an environment installed before that pin.

At start the binding is measured, not looked up in a list of versions: a few void calls show
whether it loses references. If it does, ``None`` is made immortal the way CPython 3.12 does
it (its count is raised far beyond what any session could lose), the problem is logged, and
a one-line warning tells the user how to get a safe build.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
from collections.abc import Callable

import PySide6
from PySide6.QtCore import QObject

log = logging.getLogger(__name__)

PROBE_CALLS = 64
# 2**40 references: at the ~12,500 a long reply loses, tens of millions of replies.
IMMORTAL_HEADROOM = 1 << 40


def _void_qt_call() -> Callable[[], object]:
    probe = QObject()
    return lambda: probe.setObjectName("hearth-probe")


def lost_none_references(call: Callable[[], object] | None = None,
                         calls: int = PROBE_CALLS) -> int:
    """How many references to ``None`` ``calls`` void Qt calls lose (0 for a sound binding)."""
    call = call or _void_qt_call()
    call()  # the first call may create caches (method wrappers) that hold None
    collecting = gc.isenabled()
    gc.disable()   # a collection during the probe would move the count for other reasons
    try:
        before = sys.getrefcount(None)
        for _ in range(calls):
            call()
        return max(0, before - sys.getrefcount(None))
    finally:
        if collecting:
            gc.enable()


def none_is_immortal() -> bool:
    """True where the interpreter never frees ``None`` whatever its count (CPython 3.12+)."""
    return sys.version_info >= (3, 12) or sys.implementation.name != "cpython"


def make_none_immortal() -> bool:
    """Raise ``None``'s reference count beyond anything a session could lose; True if done.

    The count is the first field of a CPython object (``ob_refcnt``) in a 64-bit build
    without ``Py_TRACE_REFS`` (which puts two list pointers first); 3.12 gives immortal
    objects a huge count in the same way. Only for CPython < 3.12.
    """
    if none_is_immortal() or hasattr(sys, "getobjects") or ctypes.sizeof(ctypes.c_ssize_t) < 8:
        return False
    before = sys.getrefcount(None)
    ctypes.c_ssize_t.from_address(id(None)).value += IMMORTAL_HEADROOM
    return sys.getrefcount(None) > before + IMMORTAL_HEADROOM // 2


def check_qt_binding(call: Callable[[], object] | None = None) -> str | None:
    """Measure the running binding; on a leaking one make it safe and return a warning."""
    lost = lost_none_references(call)
    if lost < PROBE_CALLS // 2:   # the faulty binding loses one on every call
        return None
    binding = f"PySide6 {PySide6.__version__}"
    python = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    if none_is_immortal():
        log.info("%s loses references to None on %s (harmless here: None is immortal)",
                 binding, python)
        return None
    if make_none_immortal():
        log.warning("%s loses a reference to None on every void Qt call on %s (%d of %d "
                    "probe calls); None was made immortal so the app cannot abort. Install "
                    "a fixed build: scripts/setup (pyproject.toml excludes it).", binding,
                    python, lost, PROBE_CALLS)
        return (f"{binding} is faulty on {python} (Hearth works around it): run "
                "scripts/setup for a safe version.")
    log.error("%s loses a reference to None on every void Qt call on %s, and this Python "
              "build cannot be protected: the app will abort after a while. Install a fixed "
              "build: scripts/setup.", binding, python)
    return (f"{binding} is faulty on {python} and will make Hearth crash: run scripts/setup "
            "for a safe version now.")
