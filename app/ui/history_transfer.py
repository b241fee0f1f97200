"""Menu actions that export and import conversations: file dialogs, then a short report.

Each function asks for a file, does the work, and tells the user what happened; known
errors are shown with their hint, and the window is left as it was. Exports run on the GUI
thread (they read the database, which lives there); imports are a ``ChatImport``: the file
is read in the background and stored in short steps, and the report follows its signal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from app.core.errors import HearthError
from app.storage.export import export_json, export_markdown
from app.storage.history import History
from app.storage.importing import ImportResult, read_chatgpt_export, read_json_export
from app.ui.chat_import import ChatImport, FileReader

MARKDOWN_FILTER = "Markdown, to read (*.md)"
JSON_FILTER = "Hearth JSON, complete, can be imported again (*.json)"
CHATGPT_FILTER = "ChatGPT data export (conversations.json *.zip)"
ALL_FILES_FILTER = "All files (*)"
_SHOWN_SKIPPED = 8
Exporter = Callable[[History, list[int] | None, Path], int]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _start_dir() -> Path:
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(folder) if folder and Path(folder).is_dir() else Path.home()


def _file_name(title: str) -> str:
    """``title`` made safe as a file name on every system."""
    name = re.sub(r'[<>:"/\\|?*\x00-\x1f]+', "_", title).strip(" ._")
    return name[:80] or "chat"


@contextmanager
def _busy() -> Iterator[None]:
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()


def _show_error(parent: QWidget | None, title: str, error: HearthError) -> None:
    QMessageBox.warning(parent, title, f"{error.message}\n\n{error.hint}".strip())


def export_target(chosen: Path, selected_filter: str) -> tuple[Path, Exporter]:
    """The file to write and how: by its suffix (.json or .md), else by the chosen filter
    (adding that filter's suffix when the name has none)."""
    suffix = chosen.suffix.lower()
    if suffix == ".json":
        return chosen, export_json
    if suffix in (".md", ".markdown"):
        return chosen, export_markdown
    as_json = selected_filter == JSON_FILTER
    if not suffix:
        chosen = chosen.with_name(chosen.name + (".json" if as_json else ".md"))
    return chosen, export_json if as_json else export_markdown


def _export(parent: QWidget | None, history: History, ids: list[int] | None,
            default_name: str, default_filter: str) -> Path | None:
    chosen, selected = QFileDialog.getSaveFileName(
        parent, "Export chats" if ids is None else "Export chat",
        str(_start_dir() / default_name), f"{MARKDOWN_FILTER};;{JSON_FILTER}", default_filter)
    if not chosen:
        return None
    path, exporter = export_target(Path(chosen), selected)
    try:
        with _busy():
            count = exporter(history, ids, path)
    except HearthError as exc:
        _show_error(parent, "Export failed", exc)
        return None
    QMessageBox.information(parent, "Export", f"Saved {_plural(count, 'chat')} to {path}.")
    return path


def export_chat(parent: QWidget | None, history: History,
                conversation_id: int | None) -> Path | None:
    """Export the open chat (Markdown by default); return the file written, or None."""
    info = history.conversation(conversation_id) if conversation_id is not None else None
    if info is None:
        QMessageBox.information(parent, "Export", "There is no saved chat to export yet.")
        return None
    return _export(parent, history, [info.id], f"{_file_name(info.title)}.md", MARKDOWN_FILTER)


def export_all_chats(parent: QWidget | None, history: History) -> Path | None:
    """Export every chat (JSON by default, a complete backup); return the file, or None."""
    return _export(parent, history, None, "Hearth chats.json", JSON_FILTER)


def _report(parent: QWidget | None, result: ImportResult) -> None:
    text = (f"Imported {_plural(result.conversations, 'chat')} "
            f"({_plural(result.messages, 'message')}).")
    if not result.skipped:
        QMessageBox.information(parent, "Import", text)
        return
    shown = [f"• {line}" for line in result.skipped[:_SHOWN_SKIPPED]]
    if len(result.skipped) > _SHOWN_SKIPPED:
        shown.append(f"… and {len(result.skipped) - _SHOWN_SKIPPED} more.")
    QMessageBox.warning(parent, "Import", f"{text}\n\nLeft out:\n" + "\n".join(shown))


def _import(parent: QWidget | None, history: History, caption: str, filters: str,
            read: FileReader) -> ChatImport | None:
    chosen, _selected = QFileDialog.getOpenFileName(parent, caption, str(_start_dir()), filters)
    if not chosen:
        return None
    job = ChatImport(history, Path(chosen), read, parent)
    QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)  # busy, yet usable
    job.finished.connect(lambda _result: QApplication.restoreOverrideCursor())
    job.failed.connect(lambda _error: QApplication.restoreOverrideCursor())
    job.finished.connect(lambda result: _report(parent, result))
    job.failed.connect(lambda error: _show_error(parent, "Import failed", error))
    return job.start()


def import_hearth_json(parent: QWidget | None, history: History) -> ChatImport | None:
    """Import a Hearth JSON export (None: no file chosen). Its ``finished`` signal brings
    what was imported; the caller then reloads its conversation list (also on ``failed``:
    the chats stored before the failure stay)."""
    return _import(parent, history, "Import Hearth JSON", f"{JSON_FILTER};;{ALL_FILES_FILTER}",
                   read_json_export)


def import_chatgpt_export(parent: QWidget | None, history: History) -> ChatImport | None:
    """Import a ChatGPT data export (conversations.json or the .zip), like
    ``import_hearth_json``."""
    return _import(parent, history, "Import ChatGPT export",
                   f"{CHATGPT_FILTER};;{ALL_FILES_FILTER}", read_chatgpt_export)
