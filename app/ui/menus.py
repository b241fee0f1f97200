"""The main window's menu bar: chats, history transfer, models."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from app import APP_NAME
from app.ui import history_transfer

if TYPE_CHECKING:
    from app.ui.chat_import import ChatImport
    from app.ui.main_window import MainWindow


def build_menus(window: MainWindow) -> None:
    """Fill the window's menu bar (its actions call into the window and its helpers)."""
    history = window.profile.history
    bar = window.menuBar()

    def add(menu_name: str, text: str, slot: Callable[[], object],
            shortcut: QKeySequence | None = None) -> QAction:
        menu = menus.get(menu_name) or bar.addMenu(menu_name)
        menus[menu_name] = menu
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcut is not None:
            action.setShortcut(shortcut)
        return action

    def after_import(job: ChatImport | None) -> None:
        def imported(_outcome: object) -> None:
            window.conversations.reload()
            window.search.refresh()
            window.statusBar().clearMessage()

        if job is not None:
            job.progressed.connect(lambda done, total: window.statusBar().showMessage(
                f"Importing chats: {done} of {total}…"))
            job.finished.connect(imported)
            job.failed.connect(imported)  # the chats stored before the failure stay

    menus: dict[str, QMenu] = {}
    add("&Chat", "New chat", window.new_chat)
    chat_menu = menus["&Chat"]
    for action in (window.actions_.rename_action, window.actions_.pin_action,
                   window.actions_.delete_action, window.actions_.delete_all_action):
        chat_menu.addAction(action)
    add("&Chat", "History backups…", window.actions_.edit_backups)
    chat_menu.addSeparator()
    add("&Chat", "Export this chat…", lambda: history_transfer.export_chat(
        window, history, window.chat.conversation_id))
    add("&Chat", "Export all chats…", lambda: history_transfer.export_all_chats(window, history))
    add("&Chat", "Import Hearth chats (JSON)…",
        lambda: after_import(history_transfer.import_hearth_json(window, history)))
    add("&Chat", "Import ChatGPT export…",
        lambda: after_import(history_transfer.import_chatgpt_export(window, history)))
    chat_menu.addSeparator()
    add("&Chat", "Quit", window.close, QKeySequence(QKeySequence.StandardKey.Quit))
    add("&Model", "Manage models…", window.open_model_manager,
        QKeySequence("Ctrl+Shift+M"))
    add("&Model", "Use this model for new chats", window.use_model_for_new_chats)
    add("&Model", "Model settings…", window.edit_model_settings)
    add("&Model", "Chat settings…", window.edit_chat_settings)
    add("&Help", f"About {APP_NAME}", window.show_about)
