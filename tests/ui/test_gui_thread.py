"""The GUI thread does only GUI work: library scans, the keyring, chat imports and
``nvidia-smi`` run in the background, and a library change is scanned once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from app.core import fit
from app.core.paths import Paths
from app.storage import importing
from app.ui.hub_page import HubPage

GUI = threading.main_thread()
T0 = 1714550400  # 2024-05-01 08:00 UTC


def _recorded(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str,
              wait: threading.Event | None = None) -> list[threading.Thread]:
    """Replace ``owner.name`` by a wrapper noting the thread of every call (each first
    waits, up to 5 s, for ``wait``)."""
    threads: list[threading.Thread] = []
    real = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        if wait is not None:
            wait.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return threads


def test_a_library_change_is_scanned_once_off_the_gui_thread(
        qtbot, open_window, model_paths: Paths, model_path: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    window = open_window(model_paths)
    page = window.open_model_manager().library_page
    scans = _recorded(monkeypatch, window.profile.library, "scan")
    with qtbot.waitSignal(page.library_changed, timeout=10_000):
        page.rename("Renamed")
    assert len(scans) == 1 and scans[0] is not GUI
    assert window.models.index(0).data().startswith("Renamed")   # the picker
    assert page.table_model.model_at(0).name == "Renamed"        # and the Library tab
    # A finished download reaches the window and the manager: still one scan.
    scans.clear()
    window.downloads.file_ready.emit(model_path)
    qtbot.waitUntil(lambda: "was downloaded" in window.statusBar().currentMessage(),
                    timeout=10_000)
    assert len(scans) == 1 and scans[0] is not GUI


class _RecordingKeyring(KeyringBackend):
    """A keyring in memory that notes the thread of every change."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.threads.append(threading.current_thread())
        self.passwords[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        self.threads.append(threading.current_thread())
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("none")


@pytest.fixture
def recording_keyring() -> Iterator[_RecordingKeyring]:
    previous = keyring.get_keyring()
    backend = _RecordingKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_the_access_token_is_saved_and_removed_off_the_gui_thread(
        qtbot, tmp_path: Path, recording_keyring: _RecordingKeyring) -> None:
    page = HubPage(lambda: None, lambda _file, _info: None, tmp_path, tmp_path / "models")
    qtbot.addWidget(page)
    page.set_token("hf_secret")
    qtbot.waitUntil(lambda: "Access token saved" in page.status.text(), timeout=5000)
    assert recording_keyring.passwords == {("hearth", "huggingface"): "hf_secret"}
    page.set_token("")
    qtbot.waitUntil(lambda: "removed" in page.status.text(), timeout=5000)
    assert recording_keyring.passwords == {}
    assert len(recording_keyring.threads) == 2 and GUI not in recording_keyring.threads
    page.set_token("not a token")  # the known error still reaches the banner
    qtbot.waitUntil(lambda: "does not look like" in page.banner.label.text(), timeout=5000)
    assert page.token_button.isEnabled()


def test_the_gpu_is_measured_off_the_gui_thread_and_the_fits_follow(
        qtbot, open_window, model_paths: Paths, model_path: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    answer = threading.Event()
    monkeypatch.setattr(fit, "_gpu", None)
    monkeypatch.setattr(fit, "_nvidia_smi", lambda: (8 << 30, 6 << 30, "Test GPU"))
    probes = _recorded(monkeypatch, fit, "_nvidia_smi", wait=answer)
    window = open_window(model_paths)
    window.profile.settings.set_model_override(model_path, "n_gpu_layers", -1)
    manager = window.open_model_manager()
    page = manager.library_page
    assert "measuring GPU memory" in page.hardware_label.text()
    assert page.table_model.fit_at(0).where == "RAM"  # until the GPU is known
    answer.set()
    qtbot.waitUntil(lambda: "Test GPU" in page.hardware_label.text(), timeout=10_000)
    assert page.table_model.fit_at(0).where == "VRAM"
    assert len(probes) == 1 and probes[0] is not GUI  # asked once, in the background


def _chatgpt_chat(number: int) -> dict[str, Any]:
    def node(key: str, parent: str | None, role: str, text: str) -> dict[str, Any]:
        return {"id": key, "parent": parent, "message": {
            "author": {"role": role}, "create_time": T0 + number,
            "content": {"content_type": "text", "parts": [text]}}}

    return {"title": f"Chat {number}", "create_time": T0, "current_node": "a",
            "mapping": {"u": node("u", None, "user", f"Question {number}"),
                        "a": node("a", "u", "assistant", f"Answer {number}")}}


def test_a_chat_import_is_read_off_the_gui_thread_and_reported_by_signal(
        qtbot, open_window, paths: Paths, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps([_chatgpt_chat(n) for n in range(3)]), encoding="utf-8")
    window = open_window(paths)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *_args, **_kwargs: (str(export), "")))
    reports: list[str] = []
    monkeypatch.setattr(QMessageBox, "information",
                        staticmethod(lambda _parent, _title, text: reports.append(text)))
    file_read = threading.Event()
    decoded = _recorded(monkeypatch, importing, "_decode", wait=file_read)
    stored = _recorded(monkeypatch, importing, "store_conversation")
    actions = {a.text(): a for menu in window.menuBar().findChildren(QMenu)
               for a in menu.actions()}
    actions["Import ChatGPT export…"].trigger()
    qtbot.waitUntil(lambda: bool(decoded), timeout=5000)
    assert decoded[0] is not GUI  # and this thread is free meanwhile: here we are
    qtbot.keyClicks(window.composer, "still typing")
    assert window.composer.toPlainText() == "still typing"
    from app.ui.chat_import import ChatImport

    job = window.findChild(ChatImport)
    with qtbot.waitSignal(job.finished, timeout=10_000) as finished:
        file_read.set()
    assert finished.args[0].conversations == 3
    assert stored == [GUI] * 3  # the database is written where it lives, a chat at a time
    assert window.conversations.rowCount() == 3
    assert reports == ["Imported 3 chats (6 messages)."]
