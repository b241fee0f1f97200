"""Searching all chats: a search box over a list of matching messages."""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QListView,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.storage.history import History
from app.ui.search_results_model import SearchResultsModel

Index = QModelIndex | QPersistentModelIndex
DEBOUNCE_MS = 200   # search once typing pauses, not at every key
_PAD = 6
_SNIPPET_LINES = 3


class SearchHitDelegate(QStyledItemDelegate):
    """Paints one result: the chat's title and who wrote it, above the highlighted snippet."""

    def _document(self, option: QStyleOptionViewItem, index: Index) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(0)
        doc.setHtml(index.data(SearchResultsModel.SnippetHtmlRole) or "")
        doc.setTextWidth(max(60, option.rect.width() - 2 * _PAD))
        return doc

    @staticmethod
    def _header(index: Index) -> str:
        who = "You" if index.data(SearchResultsModel.RoleRole) == "user" else "Assistant"
        return f"{index.data(SearchResultsModel.TitleRole)} · {who}"

    def _snippet_height(self, option: QStyleOptionViewItem, doc: QTextDocument) -> float:
        return min(doc.size().height(), _SNIPPET_LINES * option.fontMetrics.lineSpacing())

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        view = cast(QListView, self.parent())  # the results view that made this delegate
        option = QStyleOptionViewItem(option)
        option.rect.setWidth(view.viewport().width())
        height = option.fontMetrics.height() + self._snippet_height(
            option, self._document(option, index)) + 3 * _PAD
        return QSize(view.viewport().width(), int(height))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        self.initStyleOption(option, index)
        option.text = ""
        widget = option.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        group = option.palette.currentColorGroup()
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        rect = option.rect.adjusted(_PAD, _PAD, -_PAD, -_PAD)
        header = option.fontMetrics.elidedText(self._header(index),
                                               Qt.TextElideMode.ElideRight, rect.width())
        painter.setPen(option.palette.color(group, text_role if selected
                                            else QPalette.ColorRole.PlaceholderText))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                         header)
        doc = self._document(option, index)
        painter.translate(rect.left(), rect.top() + option.fontMetrics.height() + _PAD)
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, option.palette.color(group, text_role))
        context.clip = QRectF(0, 0, doc.textWidth(), self._snippet_height(option, doc))
        painter.setClipRect(context.clip)
        doc.documentLayout().draw(painter, context)
        painter.restore()


class SearchPanel(QWidget):
    """A search box; while it holds text, the matching messages replace ``idle_widget``.

    Selecting a result (click, arrow keys, Enter) asks to open its message.

    Signals:
        open_message(int, int): show this message (conversation id, message id).
    """

    open_message = Signal(int, int)

    def __init__(self, history: History, idle_widget: QWidget | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results = SearchResultsModel(history, self)
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("Search all chats…")
        self.field.setClearButtonEnabled(True)
        self.results_view = QListView()
        self.results_view.setModel(self.results)
        self.results_view.setItemDelegate(SearchHitDelegate(self.results_view))
        self.results_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.results_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.results_view.setUniformItemSizes(False)
        self.empty_label = QLabel("No messages match.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty_label.hide()
        results_page = QWidget()
        results_layout = QVBoxLayout(results_page)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.empty_label)
        results_layout.addWidget(self.results_view, 1)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(idle_widget if idle_widget is not None else QWidget())
        self.stack.addWidget(results_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field)
        layout.addWidget(self.stack, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_search)
        self.field.textChanged.connect(self._text_changed)
        self.field.returnPressed.connect(self._enter_pressed)
        self.results_view.selectionModel().currentChanged.connect(
            lambda current, _previous: self._open(current))
        self.results_view.activated.connect(self._open)

    @property
    def searching(self) -> bool:
        """True while results (not the idle widget) are shown."""
        return self.stack.currentIndex() == 1

    def focus_search(self) -> None:
        """Put the cursor in the search box, its text selected."""
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def run_search(self) -> None:
        """Search for the box's text now (or go back to the idle widget if it is blank)."""
        self._timer.stop()
        text = self.field.text()
        if not text.strip():
            self.results.clear()
            self.empty_label.hide()
            self.stack.setCurrentIndex(0)
            return
        self.results.search(text)
        self.empty_label.setVisible(self.results.rowCount() == 0)
        self.stack.setCurrentIndex(1)

    def refresh(self) -> None:
        """Search again (chats changed), keeping the chosen result chosen."""
        if not self.searching:
            return
        current = self.results.hit(self.results_view.currentIndex().row())
        self.run_search()
        row = self.results.row_of(current.message_id) if current is not None else None
        if row is not None:
            selection = self.results_view.selectionModel()
            selection.blockSignals(True)  # it is open already
            selection.setCurrentIndex(self.results.index(row),
                                      QItemSelectionModel.SelectionFlag.ClearAndSelect)
            selection.blockSignals(False)
            self.results_view.viewport().update()

    def _text_changed(self, text: str) -> None:
        if text.strip():
            self._timer.start()  # restarts: waits for a pause in typing
        else:
            self.run_search()

    def _enter_pressed(self) -> None:
        self.run_search()
        if self.results.rowCount():
            self.results_view.setFocus()
            self.results_view.setCurrentIndex(self.results.index(0))

    def _open(self, index: QModelIndex) -> None:
        hit = self.results.hit(index.row()) if index.isValid() else None
        if hit is not None:
            self.open_message.emit(hit.conversation_id, hit.message_id)
