"""Opening a conversation at one message (a search result), in the branch that holds it."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView

from app.ui.chat_controller import ChatController
from app.ui.chat_view import ChatView


def jump_to_message(chat: ChatController, view: ChatView, conversation_id: int,
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
    if view.scroll_to_message(message_id, QAbstractItemView.ScrollHint.PositionAtCenter):
        return None
    if message_id not in path:
        return "That message is in another version of the chat; " \
               "open it when the reply has finished."
    return "That message could not be shown."
