"""Reading one conversation of a ChatGPT data export (``conversations.json``).

A ChatGPT conversation is a tree: ``mapping`` holds nodes that name their ``parent``, an
edited question or a regenerated answer is a sibling node, and ``current_node`` ends the
branch that was shown. Hearth keeps that tree: each user or assistant message with text
becomes a Hearth message whose parent is its nearest kept ancestor, so leaving out empty
roots, hidden system prompts, tool calls and tool output never disconnects a branch.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

from app.core.protocol import StopReason
from app.storage.history import DEFAULT_TITLE, title_from
from app.storage.import_tree import (
    ImportedConversation,
    ImportedMessage,
    MalformedConversation,
)
from app.storage.schema import MessageStatus

MODEL_PREFIX = "chatgpt:"
# Content that is not part of the visible dialogue: custom instructions, memory, reasoning.
_HIDDEN_CONTENT = {"user_editable_context", "model_editable_context", "thoughts",
                   "reasoning_recap", "system_error"}
_FINISH = {"stop": (MessageStatus.COMPLETE, StopReason.END),
           "max_tokens": (MessageStatus.COMPLETE, StopReason.LENGTH),
           "interrupted": (MessageStatus.STOPPED, StopReason.STOPPED)}


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _key(value: Any, mapping: dict[str, Any]) -> str | None:
    """``value`` if it names a node of ``mapping``, else None."""
    return value if isinstance(value, str) and value in mapping else None


def _parts_text(parts: list[Any]) -> str:
    """Text parts joined by lines; pictures and other attachments become placeholders."""
    pieces, audio = [], False
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            kind = str(part.get("content_type") or "")
            if isinstance(part.get("text"), str):           # e.g. an audio transcription
                pieces.append(part["text"])
            elif kind == "image_asset_pointer":
                pieces.append("[image]")
            elif "audio" in kind:
                audio = True
            elif "video" in kind:
                pieces.append("[video]")
            else:
                pieces.append("[attachment]")
    text = "\n".join(piece for piece in pieces if piece)
    return text or ("[audio]" if audio else "")


def _text(content: Any) -> str:
    if not isinstance(content, dict) or content.get("content_type") in _HIDDEN_CONTENT:
        return ""
    if isinstance(content.get("parts"), list):
        return _parts_text(content["parts"])
    text = content.get("text")   # "code", "tether_quote", "execution_output", ...
    return text if isinstance(text, str) else ""


def _message(node_id: str, message: Any, fallback_time: datetime) -> ImportedMessage | None:
    """The Hearth message for one node, or None if the node is left out."""
    if not isinstance(message, dict):
        return None
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    if (role not in ("user", "assistant") or metadata.get("is_visually_hidden_from_conversation")
            or message.get("recipient") not in (None, "all")):   # a call to a tool
        return None
    text = _text(message.get("content"))
    if not text.strip():
        return None
    created_at = _time(message.get("create_time")) or fallback_time
    imported = ImportedMessage(key=node_id, parent_key=None, role=role, content=text,
                               created_at=created_at,
                               updated_at=_time(message.get("update_time")) or created_at)
    if role == "assistant":
        slug = metadata.get("model_slug")
        imported.model_path = f"{MODEL_PREFIX}{slug}" if isinstance(slug, str) and slug else None
        finish = metadata.get("finish_details")
        kind = finish.get("type") if isinstance(finish, dict) else None
        if kind in _FINISH:
            imported.status, imported.stats["stop_reason"] = _FINISH[kind]
    return imported


class _Tree:
    """The nodes' parent links, and each node's nearest ancestor that is kept."""

    def __init__(self, mapping: dict[str, Any], kept: set[Hashable]) -> None:
        self._parent: dict[Hashable, Hashable | None] = {
            node_id: _key(node.get("parent"), mapping) for node_id, node in mapping.items()}
        self._kept = kept
        self._nearest: dict[Hashable, Hashable | None] = {}

    def nearest_kept(self, node_id: Hashable | None) -> Hashable | None:
        """``node_id`` itself if kept, else its closest kept ancestor (None: none)."""
        walked: list[Hashable] = []
        while node_id is not None and node_id not in self._kept and node_id not in self._nearest:
            if node_id in walked:
                raise MalformedConversation("its messages answer each other in a loop")
            walked.append(node_id)
            node_id = self._parent.get(node_id)
        found = self._nearest.get(node_id, node_id) if node_id is not None else None
        self._nearest.update(dict.fromkeys(walked, found))
        return found

    def parent(self, node_id: Hashable) -> Hashable | None:
        """The parent of ``node_id`` in the file."""
        return self._parent.get(node_id)


def _title(raw: dict[str, Any], path: list[ImportedMessage]) -> str:
    title = raw.get("title")
    if isinstance(title, str) and title.strip():
        return " ".join(title.split())[:200]
    first = next((m.content for m in path if m.role == "user"), "")
    return title_from(first) if first else DEFAULT_TITLE


def chatgpt_conversation(raw: Any) -> tuple[ImportedConversation, list[str]]:
    """One entry of ``conversations.json`` as a Hearth conversation with every branch;
    raises MalformedConversation if it cannot be imported."""
    if not isinstance(raw, dict):
        raise MalformedConversation("it is not an object")
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict):
        raise MalformedConversation("it has no 'mapping' of messages")
    if bad := next((key for key, node in mapping.items() if not isinstance(node, dict)), None):
        raise MalformedConversation(f"its node {bad!r} is not an object")
    started = _time(raw.get("create_time"))
    fallback = started or datetime.now(UTC)
    found = [(_message(node_id, node.get("message"), fallback), position)
             for position, (node_id, node) in enumerate(mapping.items())]
    messages = [m for m, _ in sorted(((m, p) for m, p in found if m is not None),
                                     key=lambda pair: (pair[0].created_at, pair[1]))]
    if not messages:
        raise MalformedConversation("it has no messages with text")
    tree = _Tree(mapping, {m.key for m in messages})
    for message in messages:
        message.parent_key = tree.nearest_kept(tree.parent(message.key))
    current = raw.get("current_node")
    leaf = tree.nearest_kept(_key(current, mapping))
    by_key = {m.key: m for m in messages}
    leaf = leaf or max(messages, key=lambda m: m.created_at).key
    path: list[ImportedMessage] = []
    key: Hashable | None = leaf
    while key is not None and len(path) <= len(messages):
        path.insert(0, by_key[key])
        key = by_key[key].parent_key
    model = raw.get("default_model_slug")
    model_path = (f"{MODEL_PREFIX}{model}" if isinstance(model, str) and model else
                  next((m.model_path for m in reversed(path) if m.model_path), None))
    return ImportedConversation(
        title=_title(raw, path), created_at=started or messages[0].created_at,
        updated_at=_time(raw.get("update_time")) or max(m.updated_at for m in messages),
        messages=messages, active_leaf_key=leaf, model_path=model_path), []
