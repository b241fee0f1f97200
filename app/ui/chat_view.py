"""The conversation as a list of message bubbles, growing while a reply streams."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import cast

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QGuiApplication,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPalette,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.storage.schema import MessageStatus
from app.ui.message_list_model import MessageListModel

Index = QModelIndex | QPersistentModelIndex
_PAD = 10      # inside a bubble
_GAP = 6       # between bubbles
_MARGIN = 12   # bubble to view edge
_STATUS_TEXT = {MessageStatus.STOPPED: "Stopped", MessageStatus.ERROR: "Error",
                MessageStatus.INTERRUPTED: "Interrupted", MessageStatus.STREAMING: "Writing…"}


class MessageDelegate(QStyledItemDelegate):
    """Paints one message: a header (who, status, stats) above its text."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self._docs: OrderedDict[tuple[str, str, int], QTextDocument] = OrderedDict()

    def _document(self, role: str, text: str, width: int) -> QTextDocument:
        key = (role, text, width)
        doc = self._docs.get(key)
        if doc is None:
            doc = QTextDocument()
            doc.setDefaultFont(self._view.font())
            doc.setDocumentMargin(0)
            if role == "assistant":
                doc.setMarkdown(text)
            else:
                doc.setPlainText(text)
            doc.setTextWidth(width)
            self._docs[key] = doc
            if len(self._docs) > 300:
                self._docs.popitem(last=False)
        else:
            self._docs.move_to_end(key)
        return doc

    def _text_width(self) -> int:
        return max(120, self._view.viewport().width() - 2 * _MARGIN - 2 * _PAD)

    version_clicked = Signal(int, int)  # row, step (-1 previous, +1 next)

    @staticmethod
    def _version_text(index: Index) -> str:
        number, count = index.data(MessageListModel.VersionRole) or (1, 1)
        return f"‹  {number}/{count}  ›" if count > 1 else ""

    def _arrow_rects(self, option: QStyleOptionViewItem, index: Index) -> tuple[QRect, QRect]:
        """Where "‹" and "›" are drawn in a message's header (empty if one version)."""
        text = self._version_text(index)
        if not text:
            return QRect(), QRect()
        metrics = option.fontMetrics
        right = option.rect.right() - _MARGIN - _PAD
        top = option.rect.top() + int(_GAP / 2) + _PAD
        width = metrics.horizontalAdvance(text)
        arrow = metrics.horizontalAdvance("‹  ")
        height = metrics.height()
        return (QRect(right - width - 4, top - 2, arrow + 6, height + 4),
                QRect(right - arrow + 2, top - 2, arrow + 6, height + 4))

    def editorEvent(self, event: QEvent, model: QAbstractItemModel,
                    option: QStyleOptionViewItem,
                    index: Index) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease:
            previous, following = self._arrow_rects(option, index)
            position = cast(QMouseEvent, event).position().toPoint()
            for rect, step in ((previous, -1), (following, 1)):
                if rect.contains(position):
                    self.version_clicked.emit(index.row(), step)
                    return True
        return super().editorEvent(event, model, option, index)

    @staticmethod
    def _header(index: Index) -> str:
        role = index.data(MessageListModel.RoleRole)
        who = "You" if role == "user" else "Assistant"
        status = _STATUS_TEXT.get(index.data(MessageListModel.StatusRole), "")
        details = index.data(MessageListModel.DetailsRole) or ""
        return "  ·  ".join(part for part in (who, status, details) if part)

    def _body(self, index: Index) -> str:
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        error = index.data(MessageListModel.ErrorRole)
        if error:
            text = f"{text}\n\n⚠ {error}" if text else f"⚠ {error}"
        return text or "…"

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        doc = self._document(index.data(MessageListModel.RoleRole), self._body(index),
                             self._text_width())
        header = option.fontMetrics.height()
        height = int(doc.size().height()) + header + 2 * _PAD + 4 + _GAP
        return QSize(self._view.viewport().width(), height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        role = index.data(MessageListModel.RoleRole)
        palette = self._view.palette()
        bubble = QRectF(option.rect).adjusted(_MARGIN, _GAP / 2, -_MARGIN, -_GAP / 2)
        base = palette.color(QPalette.ColorRole.Base)
        fill = palette.color(QPalette.ColorRole.AlternateBase) if role == "assistant" \
            else QColor(palette.color(QPalette.ColorRole.Highlight)).lighter(185)
        if index.data(MessageListModel.StatusRole) == MessageStatus.ERROR:
            fill = QColor("#fde8e8")
        if option.state & QStyle.StateFlag.State_Selected:
            fill = fill.darker(108)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(base.darker(115))
        painter.setBrush(fill)
        painter.drawRoundedRect(bubble, 8, 8)
        header_height = option.fontMetrics.height()
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        header = bubble.adjusted(_PAD, _PAD, -_PAD, 0).toRect()
        painter.drawText(header, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                         self._header(index))
        version = self._version_text(index)
        if version:
            painter.setPen(palette.color(QPalette.ColorRole.Link))
            painter.drawText(header, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop),
                             version)
        doc = self._document(role, self._body(index), self._text_width())
        painter.translate(bubble.left() + _PAD, bubble.top() + _PAD + header_height + 4)
        doc.drawContents(painter)
        painter.restore()


class ChatView(QListView):
    """Shows a MessageListModel; keeps the newest text in sight while it streams.

    Signals:
        version_requested(int, int): show another version of a message (row, step).
        regenerate_requested(int): write a new version of the reply in this row.
        edit_requested(int): edit the user message in this row (as a new branch).
    """

    version_requested = Signal(int, int)
    regenerate_requested = Signal(int)
    edit_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        delegate = MessageDelegate(self)
        delegate.version_clicked.connect(self.version_requested)
        self.setItemDelegate(delegate)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.setAlternatingRowColors(False)
        self._from_bottom = 0
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        for text, keys, slot in (
                ("Copy message", QKeySequence.StandardKey.Copy, self.copy_selected),
                ("Regenerate reply", QKeySequence("Ctrl+R"),
                 lambda: self._emit_for_row(self.regenerate_requested.emit)),
                ("Edit message…", QKeySequence("Ctrl+E"),
                 lambda: self._emit_for_row(self.edit_requested.emit)),
                ("Previous version", QKeySequence("Alt+Left"),
                 lambda: self._emit_for_row(lambda row: self.version_requested.emit(row, -1))),
                ("Next version", QKeySequence("Alt+Right"),
                 lambda: self._emit_for_row(lambda row: self.version_requested.emit(row, 1)))):
            action = QAction(text, self)
            action.setShortcut(keys)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

    def _emit_for_row(self, emit: Callable[[int], object]) -> None:
        index = self.currentIndex()
        if index.isValid():
            emit(index.row())

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        if model is None:
            return
        model.dataChanged.connect(self._grew)
        model.rowsAboutToBeInserted.connect(self._remember_position)
        model.rowsInserted.connect(self._inserted)
        model.modelReset.connect(self.scrollToBottom)

    def _at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _scrolled(self, value: int) -> None:
        model = self.model()
        if value == 0 and isinstance(model, MessageListModel) and model.has_older():
            model.load_older()   # scrolled to the top: read the page before

    def _remember_position(self, *_: object) -> None:
        bar = self.verticalScrollBar()
        self._from_bottom = bar.maximum() - bar.value()

    def _inserted(self, _parent: QModelIndex, first: int, _last: int) -> None:
        self.scheduleDelayedItemsLayout()
        self.executeDelayedItemsLayout()
        if first == 0 and self.model().rowCount() > _last + 1:
            bar = self.verticalScrollBar()   # older messages above: keep the view still
            bar.setValue(bar.maximum() - self._from_bottom)
        else:
            self.scrollToBottom()

    def _grew(self, top_left: QModelIndex, _bottom_right: QModelIndex, *_: object) -> None:
        follow = self._at_bottom()
        self.itemDelegate().sizeHintChanged.emit(top_left)
        if follow:
            self.scheduleDelayedItemsLayout()
            self.executeDelayedItemsLayout()
            self.scrollToBottom()

    def scroll_to_message(self, message_id: int,
                          hint: QAbstractItemView.ScrollHint =
                          QAbstractItemView.ScrollHint.PositionAtTop) -> bool:
        """Select and show a message of the path (reading older pages as needed)."""
        model = self.model()
        if not isinstance(model, MessageListModel):
            return False
        row = model.find(message_id)
        if row is None:
            return False
        self.executeDelayedItemsLayout()
        index = model.index(row)
        self.setCurrentIndex(index)
        self.scrollTo(index, hint)
        return True

    def copy_selected(self) -> None:
        """Copy the selected message's text to the clipboard."""
        index = self.currentIndex()
        if index.isValid():
            QGuiApplication.clipboard().setText(index.data(Qt.ItemDataRole.DisplayRole) or "")
