"""The manager's Downloads tab: the queue with progress, speed and ETA, and its buttons."""

from __future__ import annotations

from typing import Any, cast

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.core.downloads import DownloadJob
from app.core.errors import HearthError
from app.core.units import human_duration, human_size, human_speed
from app.ui.download_runner import DownloadRunner
from app.ui.error_banner import ErrorBanner
from app.ui.row_list_model import Index, RowListModel

_STATE_WORDS = {"queued": "Waiting", "downloading": "Downloading", "paused": "Paused",
                "failed": "Failed", "done": "Done: verified and added to your library",
                "cancelled": "Cancelled"}


class DownloadListModel(RowListModel[DownloadJob]):
    """The queue's jobs; DisplayRole is the file name, ``StatusRole`` a line of status."""

    StatusRole = Qt.ItemDataRole.UserRole + 1
    ProgressRole = Qt.ItemDataRole.UserRole + 2  # 0..1000, -1 when unknown
    StateRole = Qt.ItemDataRole.UserRole + 3
    IdRole = Qt.ItemDataRole.UserRole + 4

    def __init__(self, runner: DownloadRunner, parent: Any = None) -> None:
        super().__init__(parent)
        self._runner = runner
        runner.jobs_changed.connect(self.reload)
        runner.job_changed.connect(self._job_changed)
        self.reload()

    def reload(self) -> None:
        """Read the queue again (a job was added or removed)."""
        self._reset(list(self._runner.queue.jobs))

    def _job_changed(self, job_id: str) -> None:
        for row, job in enumerate(self._rows):
            if job.id == job_id:
                index = self.index(row)
                self.dataChanged.emit(index, index)
                return
        self.reload()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        job = self._row_at(index)
        if job is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return job.target_name
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{job.repo_id} · {job.path}\n{self.status_text(job)}"
        if role == self.StatusRole:
            return self.status_text(job)
        if role == self.ProgressRole:
            return int(1000 * job.received / job.size) if job.size else -1
        if role == self.StateRole:
            return job.state
        if role == self.IdRole:
            return job.id
        return None

    def status_text(self, job: DownloadJob) -> str:
        """E.g. 'Downloading · 41.0 MB of 98.4 MB · 12.3 MB/s · 5 s left'."""
        parts = [_STATE_WORDS.get(job.state, job.state)]
        if job.state != "done":
            parts.append(f"{human_size(job.received)} of {human_size(job.size)}")
        speed = self._runner.speed(job.id)
        if job.state == "downloading" and speed > 0:
            parts.append(human_speed(speed))
            parts.append(f"{human_duration((job.size - job.received) / speed)} left")
        text = " · ".join(parts)
        return f"{text}\n{job.error}" if job.state == "failed" and job.error else text


class _DownloadDelegate(QStyledItemDelegate):
    """Draws a job as its name, a progress bar and its status line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        view = cast(QListView, self.parent())  # the page's view, which made this delegate
        width = view.viewport().width() - 2 * view.spacing()
        line = option.fontMetrics.height()
        return QSize(width, 2 * line + 16 + self._status_height(option, index, width))

    @staticmethod
    def _status_height(option: QStyleOptionViewItem, index: Index, width: int) -> int:
        status = str(index.data(DownloadListModel.StatusRole) or "")
        bounds = option.fontMetrics.boundingRect(QRect(0, 0, max(50, width - 16), 10_000),
                                                 Qt.TextFlag.TextWordWrap, status)
        return bounds.height()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter,
                            option.widget)
        line = option.fontMetrics.height()
        rect = option.rect.adjusted(8, 4, -8, -4)
        painter.drawText(QRect(rect.left(), rect.top(), rect.width(), line),
                         Qt.AlignmentFlag.AlignLeft, str(index.data()))
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(rect.left(), rect.top() + line + 3, rect.width(), line)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = max(0, int(index.data(DownloadListModel.ProgressRole)))
        bar.textVisible = False
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
        status = str(index.data(DownloadListModel.StatusRole) or "")
        failed = index.data(DownloadListModel.StateRole) == "failed"
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        if failed and not selected:
            painter.setPen(QColor("#8a1c1c"))
        painter.drawText(QRect(rect.left(), rect.top() + 2 * line + 8, rect.width(),
                               rect.height() - 2 * line - 8),
                         Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap, status)
        painter.restore()


class DownloadsPage(QWidget):
    """The download queue with Pause, Resume, Cancel and Remove for the selected file."""

    def __init__(self, runner: DownloadRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.model = DownloadListModel(runner, self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(_DownloadDelegate(self.view))
        self.view.setUniformItemSizes(False)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setSpacing(2)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.empty_label = QLabel("No downloads yet. Find models in the Discover tab.")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.remove_button = QPushButton("Remove from list")
        buttons = QHBoxLayout()
        for button in (self.pause_button, self.resume_button, self.cancel_button,
                       self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.banner = ErrorBanner()
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.pause_button.clicked.connect(lambda: self._act(runner.pause))
        self.resume_button.clicked.connect(lambda: self._act(runner.resume))
        self.cancel_button.clicked.connect(lambda: self._act(runner.cancel))
        self.remove_button.clicked.connect(lambda: self._act(runner.remove))
        self.view.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.model.dataChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self._update_buttons()

    def select(self, job_id: str) -> None:
        """Make the job with this id the current row."""
        for row in range(self.model.rowCount()):
            if self.model.index(row).data(DownloadListModel.IdRole) == job_id:
                self.view.setCurrentIndex(self.model.index(row))
                return

    def _current(self) -> tuple[str, str] | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        return index.data(DownloadListModel.IdRole), index.data(DownloadListModel.StateRole)

    def _act(self, action: Any) -> None:
        current = self._current()
        self.banner.hide()
        if current is not None:
            try:
                action(current[0])
            except HearthError as exc:  # e.g. another Hearth runs the downloads
                self.banner.show_message(str(exc))
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.empty_label.setVisible(self.model.rowCount() == 0)
        state = (self._current() or ("", ""))[1]
        self.pause_button.setEnabled(state in ("queued", "downloading"))
        self.resume_button.setEnabled(state in ("paused", "failed"))
        self.resume_button.setText("Retry" if state == "failed" else "Resume")
        self.cancel_button.setEnabled(state in ("queued", "downloading", "paused", "failed"))
        self.remove_button.setEnabled(state in ("done", "cancelled"))


class DownloadIndicator(QLabel):
    """A status-bar line for the running download; hidden when none runs."""

    def __init__(self, runner: DownloadRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        runner.job_changed.connect(lambda _job_id: self.refresh())
        runner.jobs_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Show the running download's progress and speed, or hide."""
        job = next((j for j in self._runner.queue.jobs if self._runner.is_active(j.id)), None)
        self.setVisible(job is not None)
        if job is None:
            return
        percent = 100 * job.received // job.size if job.size else 0
        speed = self._runner.speed(job.id)
        self.setText(f"Downloading {job.target_name}: {percent} %"
                     + (f" · {human_speed(speed)}" if speed else ""))
