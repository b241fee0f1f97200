"""Item models of the hub browser: search results, and one repository's GGUF files."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont

from app.core.fit import Fit
from app.core.hub import HubFile, HubRepo
from app.core.units import human_size
from app.ui.row_list_model import Index, RowListModel, RowTableModel

_FIT_COLOURS = {"fits": "#2e7d32", "tight": "#b26a00", "too big": "#c62828"}
FILE_COLUMNS = ("Quantisation", "Size", "Memory", "Fit", "")


class HubRepoListModel(RowListModel[HubRepo]):
    """Search results; ``RepoRole`` gives the repository id."""

    RepoRole = Qt.ItemDataRole.UserRole + 1

    def set_repos(self, repos: list[HubRepo]) -> None:
        """Show these results."""
        self._reset(list(repos))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        repo = self._row_at(index)
        if repo is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            gated = " · gated" if repo.gated else ""
            return f"{repo.id}\n{repo.downloads:,} downloads · {repo.likes:,} likes{gated}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return ", ".join(repo.tags[:20])
        if role == self.RepoRole:
            return repo.id
        return None


class HubFileTableModel(RowTableModel[tuple[HubFile, "Fit | None"]]):
    """A repository's GGUF models (split ones as one row), with memory need and fit.

    The recommended file (the best quantisation that fits) is bold and marked ★.
    """

    FileRole = Qt.ItemDataRole.UserRole + 1
    columns = FILE_COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.recommended: HubFile | None = None
        self._shared: set[str] = set()

    def set_files(self, rows: list[tuple[HubFile, Fit | None]],
                  recommended: HubFile | None) -> None:
        """Show these files with their fit (None: not estimated yet), by quantisation."""
        self.recommended = recommended
        quants = [f.quantization for f, _fit in rows]
        self._shared = {q for q in quants if quants.count(q) > 1}  # named by file too
        smallest: dict[str, int] = {}
        for hub_file, _fit in rows:
            q = hub_file.quantization
            smallest[q] = min(smallest.get(q, hub_file.size), hub_file.size)
        # Quantisations from small to large; the files of one quantisation together.
        self._reset(sorted(rows, key=lambda row: (smallest[row[0].quantization],
                                                  row[0].quantization, row[0].size)))

    def file_at(self, row: int) -> HubFile | None:
        """The file in ``row``."""
        return self._rows[row][0] if 0 <= row < len(self._rows) else None

    def fit_at(self, row: int) -> Fit | None:
        """The fit of the file in ``row`` (None when unknown)."""
        return self._rows[row][1] if 0 <= row < len(self._rows) else None

    def row_of(self, hub_file: HubFile) -> int | None:
        """The row showing ``hub_file``."""
        return next((i for i, (f, _fit) in enumerate(self._rows) if f == hub_file), None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self._row_at(index)
        if row is None:
            return None
        hub_file, fit = row
        column = index.column()
        if role == self.FileRole:
            return hub_file
        if role == Qt.ItemDataRole.DisplayRole:
            parts = f" ({len(hub_file.parts)} parts)" if len(hub_file.parts) > 1 else ""
            name = hub_file.path.rsplit("/", 1)[-1]
            quant = hub_file.quantization
            label = quant if quant and quant not in self._shared else \
                f"{quant} · {name}" if quant else name
            texts = (label,
                     human_size(hub_file.size) + parts,
                     human_size(fit.need) if fit else "…", fit.label if fit else "…",
                     "★ recommended" if hub_file == self.recommended else "")
            return texts[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{hub_file.path}\n{fit.text}" if fit else hub_file.path
        if role == Qt.ItemDataRole.ForegroundRole and column == 3 and fit:
            return QBrush(QColor(_FIT_COLOURS[fit.label]))
        if role == Qt.ItemDataRole.FontRole and hub_file == self.recommended:
            font = QFont()
            font.setBold(True)
            return font
        return None
