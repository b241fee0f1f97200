"""The open conversation: sends messages, streams replies into the view, stores them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.chat.turn import ChatTurn
from app.core import protocol as p
from app.core.errors import (
    HearthError,
    ModelFileError,
    NoModelChosenError,
    SettingsError,
)
from app.core.generation_config import generation_config
from app.core.gguf_check import check_model_file
from app.core.settings import Settings
from app.core.stats_text import describe_stats
from app.storage.history import History
from app.storage.schema import MessageStatus
from app.ui.engine_bridge import EngineBridge
from app.ui.message_list_model import MessageListModel, MessageRow

VIEW_REFRESH_MS = 40  # streamed text reaches the view at most ~25 times a second

_STATUS_FOR_STOP = {p.StopReason.STOPPED: MessageStatus.STOPPED,
                    p.StopReason.ERROR: MessageStatus.ERROR,
                    p.StopReason.CONTEXT_FULL: MessageStatus.ERROR}


class ChatController(QObject):
    """Owns the open conversation and the turn in progress, on the GUI thread.

    Signals:
        busy_changed(bool): a reply started or ended.
        error_occurred(str): a known problem to show the user.
        conversation_changed(int): another conversation was opened (its id).
        conversations_changed(): titles or order of conversations changed.
        reply_finished(object): a reply ended normally; the p.ReplyStats.
        status(str): what the engine is doing now (e.g. reading a long conversation).
    """

    busy_changed = Signal(bool)
    error_occurred = Signal(str)
    conversation_changed = Signal(int)
    conversations_changed = Signal()
    reply_finished = Signal(object)
    status = Signal(str)

    def __init__(self, history: History, settings: Settings, bridge: EngineBridge,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.settings = settings
        self.bridge = bridge
        self.messages = MessageListModel(self, read=history.messages_by_id)
        self.conversation_id: int | None = None
        self._turn: ChatTurn | None = None
        self._new_chat_settings: dict[str, Any] = {}  # for a chat not stored yet
        self._new_chat_model: str | None = None          # ... and its model, if picked
        self._reply_row = -1
        self._unshown = ""  # streamed text not yet in the view
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(VIEW_REFRESH_MS)
        self._refresh.timeout.connect(self._show_streamed_text)
        bridge.event.connect(self._on_event)

    @property
    def busy(self) -> bool:
        """True while a reply is being generated."""
        return self._turn is not None

    def open_conversation(self, conversation_id: int | None) -> None:
        """Show ``conversation_id`` (None: an empty, not yet created chat)."""
        if conversation_id == self.conversation_id:
            return
        self.conversation_id = conversation_id
        self._new_chat_settings = {}
        self._new_chat_model = None
        self._unshown = ""
        self._refresh.stop()
        self.messages.show_path(self.history.path_ids(conversation_id)
                                if conversation_id is not None else [])
        turn = self._turn
        if turn is not None and turn.conversation_id == conversation_id:
            # Coming back to the chat whose reply is streaming: show it live again.
            if turn.writer is not None and turn.writer.message_id is not None:
                self._reply_row = self.messages.rowCount() - 1
                self.messages.update(self._reply_row, text=turn.text)
            else:
                self._reply_row = self.messages.append(
                    MessageRow(role="assistant", text="", status=MessageStatus.STREAMING))
        self.conversation_changed.emit(conversation_id if conversation_id is not None else -1)

    def conversation_settings(self) -> dict[str, Any]:
        """The open chat's own settings."""
        if self.conversation_id is None:
            return dict(self._new_chat_settings)
        return self.history.conversation_settings(self.conversation_id)

    def conversation_model(self) -> str | None:
        """The model the open chat was given or last replied with (None: not chosen)."""
        if self.conversation_id is None:
            return self._new_chat_model
        info = self.history.conversation(self.conversation_id)
        return info.model_path if info else None

    def set_conversation_model(self, model_path: str) -> None:
        """Give the open chat the model at ``model_path`` (a chat not stored yet keeps it)."""
        if self.conversation_id is None:
            self._new_chat_model = model_path
        elif model_path != self.conversation_model():
            self.history.set_conversation_model(self.conversation_id, model_path)

    def set_conversation_settings(self, values: dict[str, Any]) -> None:
        """Give the open chat its own settings (validated values)."""
        if self.conversation_id is None:
            self._new_chat_settings = dict(values)
        else:
            self.history.set_conversation_settings(self.conversation_id, values)

    def new_conversation(self) -> None:
        """Start an empty chat; it is stored when its first message is sent."""
        self._new_chat_settings, self._new_chat_model = {}, None  # also when one is open
        self.open_conversation(None)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation (stopping its reply first if one is streaming)."""
        if self._turn is not None and self._turn.conversation_id == conversation_id:
            self.stop()
            self._end_turn()
        self.history.delete_conversation(conversation_id)
        if self.conversation_id == conversation_id:
            self.open_conversation(None)
        self.conversations_changed.emit()

    def delete_all_conversations(self) -> None:
        """Delete every conversation at once (stopping a streaming reply first)."""
        if self._turn is not None:
            self.stop()
            self._end_turn()
        self.history.delete_all()
        if self.conversation_id is not None:
            self.open_conversation(None)
        self.conversations_changed.emit()

    def send(self, text: str, model_path: str | None) -> bool:
        """Send ``text`` to the model at ``model_path``; False (and an error) if not sent."""
        text = text.strip()
        if not text or self.busy:
            return False
        return self._begin(model_path, lambda turn: turn.start(text, self.bridge.client),
                           [MessageRow(role="user", text=text)])

    def regenerate(self, row: int, model_path: str | None) -> bool:
        """Write a new version of the reply in ``row`` (the old one stays as a version)."""
        reply = self.messages.row(row)
        if self.busy or reply.role != "assistant" or row == 0:
            return False
        user_id = self.messages.row(row - 1).message_id
        if user_id is None:
            return False
        self._truncate_view(row)
        return self._begin(model_path, lambda turn: turn.regenerate(user_id, self.bridge.client),
                           [])

    def edit(self, row: int, text: str, model_path: str | None) -> bool:
        """Send an edited version of the user message in ``row``, as a new branch."""
        message = self.messages.row(row)
        text = text.strip()
        if self.busy or message.role != "user" or message.message_id is None or not text:
            return False
        parent = self.history.messages_by_id([message.message_id])[0].parent_id
        self._truncate_view(row)
        return self._begin(model_path,
                           lambda turn: turn.start(text, self.bridge.client, parent_id=parent),
                           [MessageRow(role="user", text=text)])

    def switch_version(self, row: int, step: int) -> bool:
        """Show the previous (-1) or next (+1) version of the message in ``row``."""
        message = self.messages.row(row)
        number, count = message.version
        target = number - 1 + step
        if self.busy or self.conversation_id is None or not 0 <= target < count:
            return False
        self.history.switch_to(message.sibling_ids[target])
        self.reload()
        return True

    def _truncate_view(self, row: int) -> None:
        """Drop the rows from ``row`` on (they are being replaced by a new branch)."""
        self.messages.set_rows(self.messages.rows()[:row])

    def reload(self) -> None:
        """Read the open conversation's active path again (e.g. after a branch switch)."""
        if self.conversation_id is not None:
            self.messages.show_path(self.history.path_ids(self.conversation_id))

    def _begin(self, model_path: str | None, start: Callable[[ChatTurn], object],
               rows: list[MessageRow]) -> bool:
        try:
            if not model_path:
                raise NoModelChosenError("Choose a model first.",
                                         "Pick one in the model list at the top.")
            check_model_file(model_path)
            config = generation_config(self.settings, model_path,
                                       self.conversation_settings())
        except (NoModelChosenError, ModelFileError, SettingsError) as exc:
            self.error_occurred.emit(str(exc))
            self.reload()
            return False
        if self.conversation_id is None:
            self.conversation_id = self.history.create_conversation(model_path).id
            self.history.set_conversation_settings(self.conversation_id,
                                                   self._new_chat_settings)
            self._new_chat_settings = {}
            self._new_chat_model = None
            self.conversation_changed.emit(self.conversation_id)
        else:  # the model shown is the one it replies with (a missing one was replaced)
            self.set_conversation_model(model_path)
        turn = ChatTurn(self.history, self.conversation_id, config)
        try:
            start(turn)
        except (HearthError, OSError) as exc:
            self.error_occurred.emit(f"Could not start the reply: {exc}")
            self.reload()
            return False
        self._turn = turn
        for row in rows:
            self.messages.append(row)
        self._reply_row = self.messages.append(
            MessageRow(role="assistant", text="", status=MessageStatus.STREAMING))
        self.busy_changed.emit(True)
        self.conversations_changed.emit()
        return True

    def stop(self) -> None:
        """Stop the reply in progress at its next token."""
        if self._turn is not None and self._turn.request_id:
            self.bridge.client.cancel(self._turn.request_id)

    def _on_event(self, event: p.Message) -> None:
        turn = self._turn
        if turn is None or not turn.handle(event):
            return
        visible = turn.conversation_id == self.conversation_id
        if isinstance(event, p.Started):
            new = event.prompt_tokens - event.cached_tokens
            note = f" ({event.dropped_messages} older messages left out)" \
                if event.dropped_messages else ""
            self.status.emit(f"Reading {new:,} new tokens of {event.prompt_tokens:,}{note}…"
                             if new > 100 else f"Writing…{note}")
            return
        if isinstance(event, p.Delta):
            if visible:
                self._unshown += event.text
                if not self._refresh.isActive():
                    self._refresh.start()
            return
        self._show_streamed_text()
        if isinstance(event, p.Done):
            if visible:
                self.messages.update(self._reply_row, details=describe_stats(event.stats),
                                     status=_STATUS_FOR_STOP.get(event.stats.stop_reason,
                                                                 MessageStatus.COMPLETE))
            self._end_turn()
            self.reply_finished.emit(event.stats)
        elif isinstance(event, p.Error):
            if visible:
                self.messages.update(self._reply_row, status=MessageStatus.ERROR,
                                     error=event.message)
            self._end_turn()
            self.error_occurred.emit(event.message)

    def _show_streamed_text(self) -> None:
        self._refresh.stop()
        if self._unshown and self._reply_row >= 0:
            self.messages.append_text(self._reply_row, self._unshown)
        self._unshown = ""

    def _end_turn(self) -> None:
        finished = self._turn
        self._turn = None
        if finished is not None and finished.conversation_id == self.conversation_id:
            self.reload()  # stored ids and versions for the new rows
        self._reply_row = -1
        self.busy_changed.emit(False)
        self.conversations_changed.emit()
