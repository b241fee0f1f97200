"""One turn of a chat: the user's message, the engine request, the reply as it streams."""

from __future__ import annotations

from app.core import protocol as p
from app.core.generation_config import GenerationConfig
from app.engine.client import EngineClient
from app.storage.history import ACTIVE_LEAF, History, StoredMessage
from app.storage.reply_writer import ReplyWriter
from app.storage.schema import MessageStatus


def prompt_messages(stored: list[StoredMessage], system_prompt: str) -> list[dict[str, str]]:
    """What the model sees: the system prompt, then the conversation's turns.

    Replies that failed before producing any text are left out.
    """
    messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    for message in stored:
        if message.role == "assistant" and not message.content and \
                message.status != MessageStatus.COMPLETE:
            continue
        messages.append({"role": message.role, "content": message.content})
    return messages



class ChatTurn:
    """Sends one user message and records the reply.

    The user's message is committed before the request goes to the engine; the reply is
    written by a ReplyWriter as ``handle`` receives the engine's events. The window and
    the self-test both drive chats through this class.
    """

    def __init__(self, history: History, conversation_id: int,
                 config: GenerationConfig) -> None:
        self.history = history
        self.conversation_id = conversation_id
        self.config = config
        self.request_id: str | None = None
        self.user_message: StoredMessage | None = None
        self.writer: ReplyWriter | None = None
        self.stats: p.ReplyStats | None = None
        self.error: p.Error | None = None
        self.finished = False

    def start(self, text: str, engine: EngineClient, parent_id: int | None = ACTIVE_LEAF
              ) -> StoredMessage:
        """Store ``text`` as the user's message and ask the engine for a reply.

        ``parent_id`` places the message in the tree (default: after the active path's end;
        the parent of an edited message makes the edit a new version of it).
        """
        self.user_message = self.history.add_message(self.conversation_id, "user", text,
                                                     parent_id=parent_id)
        self._request(engine)
        return self.user_message

    def regenerate(self, user_message_id: int, engine: EngineClient) -> None:
        """Ask for another reply to a stored user message (a new version of the reply)."""
        self.history.set_active_leaf(self.conversation_id, user_message_id)
        self.user_message = self.history.messages_by_id([user_message_id])[0]
        self._request(engine)

    def _request(self, engine: EngineClient) -> None:
        assert self.user_message is not None
        config = self.config
        messages = prompt_messages(self.history.messages(self.conversation_id),
                                   config.system_prompt)
        self.writer = ReplyWriter(self.history, self.conversation_id, self.user_message.id,
                                  config.model.path)
        self.request_id = engine.chat(config.model, messages, config.sampling,
                                      context_policy=config.context_policy,
                                      cache_key=self._cache_key())

    def _cache_key(self) -> str:
        info = self.history.conversation(self.conversation_id)
        return info.cache_key if info is not None else ""

    def handle(self, event: p.Message) -> bool:
        """Apply one engine event; return True if it belonged to this turn."""
        if self.finished or getattr(event, "request_id", None) != self.request_id:
            return False
        assert self.writer is not None
        if isinstance(event, p.Delta):
            self.writer.append(event.text)
        elif isinstance(event, p.Done):
            self.stats = event.stats
            self.writer.finish(event.stats)
            self.finished = True
        elif isinstance(event, p.Error):
            self.error = event
            self.writer.fail(event.message)
            self.finished = True
        return True

    @property
    def text(self) -> str:
        """The reply so far."""
        return self.writer.text if self.writer else ""
