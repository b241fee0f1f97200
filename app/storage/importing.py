"""Importing conversations: Hearth's own JSON export, and a ChatGPT data export.

A file that cannot be read at all is refused with a ``HistoryImportError``; a conversation
inside it that cannot be imported is skipped and named in ``ImportResult.skipped``, and the
others are imported. Each conversation is stored in one transaction, so none is ever
half-imported.

An import has two halves: ``read_json_export``/``read_chatgpt_export`` read, decode and
check the file without touching the database (the window runs them in the background), and
an ``ImportWriter`` stores the result one conversation at a time (the window does that on
its own thread, which owns the database, in short steps). ``import_json`` and
``import_chatgpt`` do both at once.
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.exc import OperationalError

from app.core.errors import HearthError
from app.storage.chatgpt_import import chatgpt_conversation
from app.storage.database import is_condition
from app.storage.export import FORMAT, VERSION
from app.storage.hearth_import import hearth_conversation
from app.storage.history import History
from app.storage.import_tree import (
    ImportedConversation,
    MalformedConversation,
    insertion_order,
    store_conversation,
)

CHATGPT_FILE = "conversations.json"
Reader = Callable[[Any], tuple[ImportedConversation, list[str]]]


class HistoryImportError(HearthError):
    """An import file cannot be read: not JSON, not the expected kind, or too new."""


@dataclass
class ImportResult:
    """What an import added, and what it left out (each with the reason)."""

    conversations: int = 0
    messages: int = 0
    skipped: list[str] = field(default_factory=list)


def _decode(data: bytes, name: str, hint: str) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise HistoryImportError(f"{name} is not a text file.", hint) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        where = (f" (line {exc.lineno}, column {exc.colno})"
                 if isinstance(exc, json.JSONDecodeError) else "")
        raise HistoryImportError(f"{name} is not valid JSON{where}.", hint) from None


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise HistoryImportError(f"{Path(path).name} does not exist.",
                                 "Choose the file again.") from None
    except OSError as exc:
        raise HistoryImportError(f"{Path(path).name} could not be read: "
                                 f"{exc.strerror or exc}.",
                                 "Check that the file is readable, or copy it elsewhere "
                                 "first.") from exc


def _chatgpt_data(path: Path) -> bytes:
    """The bytes of ``conversations.json``, also from inside the export's .zip file."""
    if not zipfile.is_zipfile(path):
        return _read(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if PurePosixPath(n).name == CHATGPT_FILE]
            if not names:
                raise HistoryImportError(f"{Path(path).name} has no {CHATGPT_FILE} inside.",
                                         "Choose the .zip file of a ChatGPT data export, or "
                                         f"the {CHATGPT_FILE} from it.")
            return archive.read(min(names, key=len))
    except (zipfile.BadZipFile, OSError) as exc:
        raise HistoryImportError(f"{Path(path).name} is a damaged .zip file ({exc}).",
                                 "Download the export again, or unzip it and choose "
                                 f"{CHATGPT_FILE}.") from exc


@dataclass
class ParsedChat:
    """One conversation of an import file, read and checked (None: it cannot be imported;
    ``notes`` then say why, else what was left out of it)."""

    name: str
    conversation: ImportedConversation | None
    notes: list[str] = field(default_factory=list)


def _parse_all(entries: list[Any], reader: Reader,
               cancel: threading.Event | None) -> list[ParsedChat]:
    """Every entry as a ParsedChat; stops early (with those read) when ``cancel`` is set."""
    chats = []
    for number, raw in enumerate(entries, 1):
        if cancel is not None and cancel.is_set():
            break
        title = raw.get("title") if isinstance(raw, dict) else None
        name = (f"“{title}” (chat {number} in the file)" if isinstance(title, str) and title
                else f"chat {number} in the file")
        try:
            conversation, notes = reader(raw)
            insertion_order(conversation.messages)  # found here, not while storing
        except MalformedConversation as exc:
            chats.append(ParsedChat(name, None, [str(exc)]))
            continue
        chats.append(ParsedChat(name, conversation, notes))
    return chats


class ImportWriter:
    """Stores the chats of a read import file, one per ``store_next`` (one transaction each).

    ``result`` says what was added so far.
    """

    def __init__(self, history: History, chats: list[ParsedChat]) -> None:
        self._history, self._chats = history, chats
        self._next = 0
        self.result = ImportResult()

    @property
    def total(self) -> int:
        """How many chats the file holds (stored or to be skipped)."""
        return len(self._chats)

    @property
    def done(self) -> int:
        """How many of them were dealt with."""
        return self._next

    def store_next(self) -> bool:
        """Store the next chat (or note why not); False once none is left.

        ``HistoryImportError`` when the database cannot be written (the chats stored
        before stay, complete).
        """
        if self._next >= len(self._chats):
            return False
        chat = self._chats[self._next]
        self._next += 1
        result = self.result
        if chat.conversation is None:
            result.skipped.extend(f"{chat.name}: {note}" for note in chat.notes)
            return True
        try:
            with self._history.sessions.begin() as session:
                store_conversation(session, chat.conversation)
        except MalformedConversation as exc:
            result.skipped.append(f"{chat.name}: {exc}")
            return True
        except OperationalError as exc:
            if not is_condition(exc):
                raise   # our SQL is wrong: a bug, not the disk
            raise HistoryImportError(
                f"The import stopped after {result.conversations} chats: the history "
                f"database could not be written ({exc.orig}).",
                "Free some disk space and import the file again; the chats already "
                "imported are complete.") from exc
        result.conversations += 1
        result.messages += len(chat.conversation.messages)
        result.skipped.extend(f"{chat.name}: {note}" for note in chat.notes)
        return True


def _store_all(history: History, chats: list[ParsedChat]) -> ImportResult:
    writer = ImportWriter(history, chats)
    while writer.store_next():
        pass
    return writer.result


def import_json(history: History, path: Path) -> ImportResult:
    """Add the conversations of a Hearth JSON export, every branch and field restored."""
    return _store_all(history, read_json_export(path))


def import_chatgpt(history: History, path: Path) -> ImportResult:
    """Add the conversations of a ChatGPT data export (its ``conversations.json``, or the
    .zip it came in), keeping their branches and the branch that was shown."""
    return _store_all(history, read_chatgpt_export(path))


def read_json_export(path: Path, cancel: threading.Event | None = None) -> list[ParsedChat]:
    """Read and check a Hearth JSON export (no database access)."""
    name = Path(path).name
    hint = "Choose a file exported by Hearth as JSON."
    document = _decode(_read(path), name, hint)
    if isinstance(document, list) and document and isinstance(document[0], dict) \
            and "mapping" in document[0]:
        raise HistoryImportError(f"{name} is not a Hearth export; it looks like a ChatGPT "
                                 "export.", "Use “Import ChatGPT export” for it.")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise HistoryImportError(f"{name} is not a Hearth export.", hint)
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise HistoryImportError(f"{name} has no valid format version ({version!r}).", hint)
    if version > VERSION:
        raise HistoryImportError(f"{name} was written by a newer version of Hearth (format "
                                 f"version {version}).", "Update Hearth to import it.")
    conversations = document.get("conversations")
    if not isinstance(conversations, list):
        raise HistoryImportError(f"{name} has no list of conversations.", hint)
    return _parse_all(conversations, hearth_conversation, cancel)


def read_chatgpt_export(path: Path, cancel: threading.Event | None = None) -> list[ParsedChat]:
    """Read and check a ChatGPT data export (no database access)."""
    name = Path(path).name
    hint = (f"Choose the {CHATGPT_FILE} of a ChatGPT data export (Settings → Data controls "
            "→ Export data), or the .zip file itself.")
    document = _decode(_chatgpt_data(path), name, hint)
    if isinstance(document, dict) and document.get("format") == FORMAT:
        raise HistoryImportError(f"{name} is a Hearth export, not a ChatGPT export.",
                                 "Use “Import Hearth JSON” for it.")
    if not isinstance(document, list):
        raise HistoryImportError(f"{name} is not a ChatGPT export: it should hold a list of "
                                 "conversations.", hint)
    return _parse_all(document, chatgpt_conversation, cancel)
