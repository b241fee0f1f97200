"""Reading one conversation of a Hearth JSON export (``app.storage.export``), checked
field by field so that a damaged entry is refused with a reason instead of half-stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.core.errors import SettingsError
from app.core.settings import validate_values
from app.storage.export import FLOAT_STATS, INT_STATS, TEXT_STATS, utc
from app.storage.history import DEFAULT_TITLE
from app.storage.import_tree import (
    ROLES,
    ImportedConversation,
    ImportedMessage,
    MalformedConversation,
)
from app.storage.schema import MessageStatus

STATUSES = (MessageStatus.COMPLETE, MessageStatus.STREAMING, MessageStatus.STOPPED,
            MessageStatus.ERROR, MessageStatus.INTERRUPTED)
_ID = (int, str)
_TYPE_NAMES = {int: "a whole number", float: "a number", str: "a text", bool: "true or false",
               dict: "an object", list: "a list"}


def _field(raw: dict[str, Any], name: str, kinds: tuple[type, ...], where: str,
           default: Any = None) -> Any:
    """``raw[name]`` if it has one of ``kinds`` (null or missing: ``default``)."""
    value = raw.get(name)
    if value is None:
        return default
    if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
        return value
    expected = " or ".join(_TYPE_NAMES.get(kind, kind.__name__) for kind in kinds)
    raise MalformedConversation(f"{where}: '{name}' should be {expected}, not {value!r:.40}")


def _time(raw: dict[str, Any], name: str, where: str, default: datetime) -> datetime:
    text = _field(raw, name, (str,), where)
    if text is None:
        return default
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        raise MalformedConversation(f"{where}: '{name}' is not a date and time: "
                                    f"{text!r:.40}") from None


def _message(raw: Any, number: int, default_time: datetime) -> ImportedMessage:
    where = f"message {number}"
    if not isinstance(raw, dict):
        raise MalformedConversation(f"{where} is not an object")
    key = _field(raw, "id", _ID, where)
    if key is None:
        raise MalformedConversation(f"{where} has no id")
    where = f"message {key!r}"
    role = _field(raw, "role", (str,), where)
    if role not in ROLES:
        raise MalformedConversation(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    content = _field(raw, "content", (str,), where)
    if content is None:
        raise MalformedConversation(f"{where} has no content")
    status = _field(raw, "status", (str,), where, MessageStatus.COMPLETE)
    if status not in STATUSES:
        raise MalformedConversation(f"{where}: status {status!r} is unknown")
    if status == MessageStatus.STREAMING:   # nothing is writing it any more
        status = MessageStatus.INTERRUPTED
    stats: dict[str, Any] = {name: _field(raw, name, (int,), where) for name in INT_STATS}
    for name in FLOAT_STATS:
        value = _field(raw, name, (int, float), where)
        stats[name] = None if value is None else float(value)
    stats.update({name: _field(raw, name, (str,), where) for name in TEXT_STATS})
    created_at = _time(raw, "created_at", where, default_time)
    return ImportedMessage(key=key, parent_key=_field(raw, "parent_id", _ID, where),
                           role=role, content=content, status=status,
                           error=_field(raw, "error", (str,), where),
                           model_path=_field(raw, "model_path", (str,), where),
                           created_at=created_at,
                           updated_at=_time(raw, "updated_at", where, created_at),
                           stats=stats)


def _settings(raw: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The conversation's valid settings; each invalid one is left out with a note."""
    kept = {}
    for name, value in _field(raw, "settings", (dict,), "the chat", {}).items():
        try:
            kept.update(validate_values({name: value}, layer="conversation"))
        except SettingsError as exc:
            notes.append(f"setting '{name}' was left out: {exc.message}")
    return kept


def hearth_conversation(raw: Any) -> tuple[ImportedConversation, list[str]]:
    """One entry of a Hearth document's ``conversations`` list, checked; with notes on
    what was left out of it. Raises MalformedConversation if it cannot be imported."""
    if not isinstance(raw, dict):
        raise MalformedConversation("it is not an object")
    where = "the chat"
    now = datetime.now(UTC)
    created_at = _time(raw, "created_at", where, now)
    raw_messages = _field(raw, "messages", (list,), where, [])
    notes: list[str] = []
    conversation = ImportedConversation(
        title=_field(raw, "title", (str,), where, DEFAULT_TITLE),
        created_at=created_at, updated_at=_time(raw, "updated_at", where, created_at),
        messages=[_message(m, n, created_at) for n, m in enumerate(raw_messages, 1)],
        active_leaf_key=_field(raw, "active_leaf", _ID, where),
        model_path=_field(raw, "model_path", (str,), where),
        pinned=_field(raw, "pinned", (bool,), where, False),
        settings=_settings(raw, notes))
    return conversation, notes
