"""The conversation as a list of message bubbles, growing while a reply streams."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import (QAction, QColor, QGuiApplication, QKeySequence, QPainter,
                           QPalette, QTextDocument)
from PySide6.QtWidgets import (QAbstractItemView, QListView, QStyle, QStyledItemDelegate,
                               QStyleOptionViewItem, QWidget)

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

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
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
        painter.drawText(bubble.adjusted(_PAD, _PAD, -_PAD, 0).toRect(),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                         self._header(index))
        doc = self._document(role, self._body(index), self._text_width())
        painter.translate(bubble.left() + _PAD, bubble.top() + _PAD + header_height + 4)
        doc.drawContents(painter)
        painter.restore()


class ChatView(QListView):
    """Shows a MessageListModel; keeps the newest text in sight while it streams."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setItemDelegate(MessageDelegate(self))
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.setAlternatingRowColors(False)
        copy = QAction("Copy message", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selected)
        self.addAction(copy)

    def setModel(self, model: MessageListModel) -> None:  # noqa: N802 - Qt override
        super().setModel(model)
        model.dataChanged.connect(self._grew)
        model.rowsInserted.connect(lambda *_: self._follow())
        model.modelReset.connect(self.scrollToBottom)

    def _at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _grew(self, top_left: QModelIndex, _bottom_right: QModelIndex, *_: object) -> None:
        follow = self._at_bottom()
        self.itemDelegate().sizeHintChanged.emit(top_left)
        if follow:
            self._follow()

    def _follow(self) -> None:
        self.scheduleDelayedItemsLayout()
        self.executeDelayedItemsLayout()
        self.scrollToBottom()

    def copy_selected(self) -> None:
        """Copy the selected message's text to the clipboard."""
        index = self.currentIndex()
        if index.isValid():
            QGuiApplication.clipboard().setText(index.data(Qt.ItemDataRole.DisplayRole) or "")
