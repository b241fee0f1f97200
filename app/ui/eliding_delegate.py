"""A list delegate that keeps rows as wide as the view."""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize
from PySide6.QtWidgets import QListView, QStyledItemDelegate, QStyleOptionViewItem


class ElidingDelegate(QStyledItemDelegate):
    """Keeps list rows as wide as the view, so long titles end in "…" instead of scrolling."""

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        view = cast(QListView, self.parent())  # the list view that made this delegate
        return QSize(min(hint.width(), view.viewport().width()), hint.height())
