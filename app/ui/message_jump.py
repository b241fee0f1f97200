"""Opening a conversation at one message (a search result), in the branch that holds it."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QAbstractItemView

from app.ui.chat_controller import ChatController


def message_row(model: QAbstractItemModel, message_id: int, path_ids: list[int]) -> int | None:
    """The row of ``message_id`` in the chat's message model, if it is shown.

    A model with an ``IdRole`` is asked directly (through its ``find``, which reads older
    pages of a long chat, when it has one); otherwise its rows are taken to be the active
    path, first to last (``path_ids``).
    """
    id_role = getattr(type(model), "IdRole", None)
    if id_role is not None:
        find = getattr(model, "find", None)
        if callable(find):
            return find(message_id)
        return next((row for row in range(model.rowCount())
                     if model.index(row, 0).data(id_role) == message_id), None)
    if message_id not in path_ids:
        return None
    row = path_ids.index(message_id)
    return row if row < model.rowCount() else None


def jump_to_message(chat: ChatController, view: QAbstractItemView, conversation_id: int,
                    message_id: int) -> str | None:
    """Open ``conversation_id`` in ``chat`` and select and show ``message_id`` in ``view``.

    If the message is in another branch, that branch becomes the active one (not while a
    reply is being written: it would continue the wrong branch). Returns None when the
    message is shown, else why not, for the user.
    """
    history = chat.history
    if history.conversation(conversation_id) is None:
        return "That chat was deleted."
    path = history.path_ids(conversation_id)
    if message_id not in path and not chat.busy:
        history.switch_to(message_id)
        path = history.path_ids(conversation_id)
        if chat.conversation_id == conversation_id:
            chat.reload()  # read it again, in its new branch
    chat.open_conversation(conversation_id)
    row = message_row(view.model(), message_id, path)
    if row is None:
        if message_id not in path:
            return "That message is in another version of the chat; " \
                   "open it when the reply has finished."
        return "That message could not be shown."
    index = view.model().index(row, 0)
    view.setCurrentIndex(index)
    view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
    return None
