"""One scan of the model library, in the background, shared by all who show the library.

The model picker and the manager's Library tab show the same scan: a change (an import,
a rename, a download) asks for a rescan, every request made before it starts is served by
the same scan, and the result reaches both through ``scanned``. A scan stats every file
(and reads the header of any file the metadata cache does not know), so it runs on the
background pool; only the first one, before the window is shown, runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.library import LibraryModel, ModelLibrary
from app.ui.background import BackgroundOp


@dataclass(frozen=True)
class LibraryScan:
    """What one scan found: every model, and what could not be looked at."""

    models: list[LibraryModel] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class LibraryScanner(QObject):
    """Scans the library when asked, one scan at a time, and hands out the result.

    Signals:
        scanned(LibraryScan): a scan ended; ``latest`` is now that scan.
    """

    scanned = Signal(object)

    def __init__(self, library: ModelLibrary, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self.latest = LibraryScan()
        self._wanted = False      # a change was made since the running scan started
        self._starting = False    # a start is scheduled for the next event-loop turn
        self._running = False
        self._next: list[Callable[[LibraryScan], None]] = []     # for the scan to come
        self._current: list[Callable[[LibraryScan], None]] = []  # for the running one

    @property
    def busy(self) -> bool:
        """Whether a scan is running or about to start."""
        return self._running or self._starting

    def scan_now(self) -> LibraryScan:
        """Scan on this thread (only before the window is shown) and keep the result."""
        self.latest = self._scan()
        return self.latest

    def rescan(self, then: Callable[[LibraryScan], None] | None = None) -> None:
        """Scan again in the background soon; ``then(scan)`` runs after ``scanned``.

        Requests made in the same event-loop turn share one scan; one made while a scan
        runs gets the next scan (the running one may have missed the change).
        """
        self._wanted = True
        if then is not None:
            self._next.append(then)
        if not self._running and not self._starting:
            self._starting = True
            QTimer.singleShot(0, self, self._start)

    def _start(self) -> None:
        self._starting = False
        if self._running or not self._wanted:
            return
        self._wanted, self._running = False, True
        self._current, self._next = self._next, []
        BackgroundOp[LibraryScan](self._scan) \
            .success(self._done) \
            .failure(self._failed) \
            .run_in_background()

    def _scan(self) -> LibraryScan:
        models = self._library.scan()
        return LibraryScan(models, list(self._library.problems))

    def _done(self, scan: LibraryScan) -> None:
        self._running = False
        self.latest = scan
        callbacks, self._current = self._current, []
        self.scanned.emit(scan)
        for callback in callbacks:
            callback(scan)
        if self._wanted:
            self._start()

    def _failed(self, error: BaseException) -> None:
        self._running = False  # a scan never raises for a file: this is a bug
        self._current = []
        raise error
