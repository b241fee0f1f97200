"""The model manager as a user drives it: library, Hugging Face (local test hub), downloads."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from app.chat.profile import Profile
from app.core import model_import
from app.core.download_job import jobs_for
from app.core.errors import DownloadError
from app.core.fit import detect_hardware
from app.core.gguf_info import read_gguf_info
from app.core.memory import automatic_context, model_memory_bytes
from app.core.paths import Paths
from app.ui.downloads_page import DownloadIndicator, DownloadListModel
from app.ui.library_table_model import COLUMNS
from app.ui.main_window import MainWindow
from tests.gguf_files import write_gguf

REPO = "hearth-test/SmolLM2-135M-Instruct-GGUF"
HUB_NAME = "smollm2-135m-instruct-Q4_1.gguf"
CARD = (b"---\nlicense: apache-2.0\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\n---\n\n"
        b"# SmolLM2 135M Instruct\n\nA compact model for quick local chats.\n")


def _cell(manager, row: int, column: str) -> str:
    model = manager.library_page.table_model
    return model.index(row, COLUMNS.index(column)).data()


def _picker_names(window: MainWindow) -> list[str]:
    return [window.models.index(i).data() for i in range(window.models.rowCount())]


def _add_starter_repo(hub, starter_gguf: Path) -> None:
    hub.add_repo(REPO, {HUB_NAME: starter_gguf, "README.md": CARD}, downloads=1234, likes=56)
    hub.add_repo("someone/other-model-GGUF", {"other-Q8_0.gguf": b"GGUF" + b"\0" * 60},
                 downloads=7)


def _open_repo(qtbot, manager) -> None:
    page = manager.hub_page
    manager.tabs.setCurrentWidget(page)
    with qtbot.waitSignal(page.repos.modelReset, timeout=15000):
        page.search("smollm2")
    assert page.repos.rowCount() == 1
    page.results_view.setCurrentIndex(page.repos.index(0))
    qtbot.waitUntil(lambda: page.files.rowCount() == 1 and page.listing is not None,
                    timeout=15000)


def _start_throttled_download(qtbot, open_window, paths: Paths, hub, starter_gguf: Path,
                              sent: int) -> tuple[MainWindow, object]:
    """Open a window, start the starter model's download at 8 MB/s, wait for ``sent`` bytes."""
    _add_starter_repo(hub, starter_gguf)
    hub.rate = 8_000_000  # the 98 MB file takes ~12 s: time to act on it midway
    window = open_window(paths)
    manager = window.open_model_manager()
    _open_repo(qtbot, manager)
    manager.hub_page.files_view.selectRow(0)
    manager.hub_page.download(confirmed=True)
    assert hub.wait_sent(HUB_NAME, sent, timeout=20)
    return window, manager


def test_library_lists_models_with_metadata_and_fit(qtbot, open_window, model_paths: Paths,
                                                    model_path: str) -> None:
    window = open_window(model_paths)
    manager = window.open_model_manager()
    assert manager.library_page.table_model.rowCount() == 1
    assert _cell(manager, 0, "Quant") == "Q4_1"
    assert _cell(manager, 0, "Context") == "8,192"
    assert _cell(manager, 0, "Size") == "135M"
    assert _cell(manager, 0, "Fit") in ("fits", "tight", "too big")
    details = manager.library_page.details.text()
    assert "llama" in details and "chat template included" in details
    assert "licence apache-2.0" in details
    # With the context automatic, the need is that of the context a load would get.
    window.profile.settings.set("n_ctx", 0)
    manager.library_page.table_model.refit()
    fit, info = manager.library_page.table_model.fit_at(0), read_gguf_info(model_path)
    assert fit.n_ctx == automatic_context(info, manager.hardware.ram_available)
    assert fit.need == model_memory_bytes(info, fit.n_ctx)
    assert f"at {fit.n_ctx:,} tokens of context (automatic)" in fit.text


def test_unreadable_file_is_listed_with_its_reason_but_cannot_be_chosen(
        qtbot, open_window, model_paths: Paths) -> None:
    (model_paths.models_dir / "broken.gguf").write_bytes(b"GGUF" + b"\xff" * 100)
    window = open_window(model_paths)
    manager = window.open_model_manager()
    rows = {_cell(manager, r, "Name"): r for r in range(2)}
    assert _cell(manager, rows["broken"], "Fit") == "unusable"
    assert "broken.gguf" in manager.library_page.table_model.model_at(rows["broken"]).error
    broken_row = window.models.row_of(str(model_paths.models_dir / "broken.gguf"))
    assert not window.models.flags(window.models.index(broken_row)) & \
        window.models.flags(window.models.index(1 - broken_row))
    assert window.current_model_path().endswith("Q4_1.gguf")  # the usable one is chosen


def test_rename_and_default_reach_the_model_picker(qtbot, open_window,
                                                   model_paths: Paths, model_path: str) -> None:
    window = open_window(model_paths)
    manager = window.open_model_manager()
    with qtbot.waitSignal(manager.library_changed, timeout=10_000):  # the library is rescanned
        manager.library_page.rename("Tiny helper")
    assert _picker_names(window) == ["Tiny helper  (98.4 MB)"]
    assert window.profile.settings.model_overrides(model_path)["display_name"] == "Tiny helper"
    with qtbot.waitSignal(manager.library_changed, timeout=10_000):
        manager.library_page.rename("")
    assert _picker_names(window)[0].startswith("SmolLM2-135M-Instruct.Q4_1")
    manager.library_page.make_default()
    assert window.profile.settings.get("default_model") == model_path


def test_settings_button_edits_the_selected_models_own_settings(
        qtbot, open_window, model_paths: Paths, model_path: str) -> None:
    window = open_window(model_paths)
    manager = window.open_model_manager()
    dialogs = []
    manager.library_page.settings_requested.connect(
        lambda path: dialogs.append(window.edit_model_settings(path)))
    manager.library_page.settings_button.click()
    dialog = dialogs[0]
    dialog.editors["temperature"].setValue(0.2)
    dialog.editors["n_ctx"].setValue(1024)
    dialog.accept()
    overrides = window.profile.settings.model_overrides(model_path)
    assert overrides["temperature"] == 0.2 and overrides["n_ctx"] == 1024


def test_delete_is_refused_while_loaded_and_removes_the_file_after(
        qtbot, open_window, model_paths: Paths, model_path: str) -> None:
    window = open_window(model_paths)
    qtbot.waitUntil(lambda: window.bridge.client.loaded_models() == [model_path],
                    timeout=60000)
    manager = window.open_model_manager()
    manager.library_page.delete(confirmed=True)
    assert Path(model_path).exists()
    assert "loaded" in manager.library_page.banner.label.text()
    window.bridge.client.unload(model_path)
    qtbot.waitUntil(lambda: not window.bridge.client.loaded_models(), timeout=10000)
    with qtbot.waitSignal(manager.library_changed, timeout=5000):
        manager.library_page.delete(confirmed=True)
    assert not Path(model_path).exists()
    assert window.models.rowCount() == 0


def test_linked_folder_and_added_files_are_used_where_they_are(
        qtbot, open_window, paths: Paths, starter_gguf: Path, tmp_path: Path) -> None:
    folder = tmp_path / "lm-studio" / "models" / "org"
    folder.mkdir(parents=True)
    os.link(starter_gguf, folder / "in-folder.gguf")
    loose = tmp_path / "loose.gguf"
    os.link(starter_gguf, loose)
    window = open_window(paths)
    manager = window.open_model_manager()
    with qtbot.waitSignal(manager.library_changed, timeout=10000):
        manager.library_page.link_folder(str(tmp_path / "lm-studio"))
    with qtbot.waitSignal(manager.library_changed, timeout=10000):
        manager.library_page.add_file(str(loose), "link")
    names = {_cell(manager, r, "Name"): _cell(manager, r, "Where") for r in range(2)}
    assert names == {"in-folder": "Linked folder", "loose": "Linked file"}
    assert not list(paths.models_dir.glob("*.gguf"))  # referenced, not copied
    with qtbot.waitSignal(manager.library_changed, timeout=30000):
        manager.library_page.add_file(str(loose), "copy")
    assert (paths.models_dir / "loose.gguf").stat().st_size == starter_gguf.stat().st_size
    # The links survive a restart.
    reopened = Profile.open(paths)
    assert {m.path.name for m in reopened.library.scan()} == {"in-folder.gguf", "loose.gguf"}
    assert len(reopened.library.scan()) == 3


def test_hub_search_lists_quants_with_fit_and_downloads_into_the_library(
        qtbot, open_window, paths: Paths, hub, starter_gguf: Path) -> None:
    _add_starter_repo(hub, starter_gguf)
    window = open_window(paths)
    manager = window.open_model_manager()
    _open_repo(qtbot, manager)
    page = manager.hub_page
    files = page.files
    assert files.index(0, 0).data() == "Q4_1"
    assert files.index(0, 3).data() in ("fits", "tight", "too big")
    if files.fit_at(0).label == "fits":
        assert files.recommended == files.file_at(0)
        assert files.index(0, 4).data() == "★ recommended"
    assert "A compact model for quick local chats." in page.card.text()
    assert "license:" not in page.card.text()  # the YAML front matter is not the card
    page.files_view.selectRow(0)
    with qtbot.waitSignal(window.downloads.file_ready, timeout=60000) as ready:
        assert page.download(confirmed=True)
        assert manager.tabs.currentWidget() is manager.downloads_page
    target = paths.models_dir / REPO / HUB_NAME  # a folder per repo: names can repeat
    assert ready.args == [str(target)]
    assert read_gguf_info(target).quantization == "Q4_1"
    assert not list((paths.data_dir / "downloads").glob("*.part"))
    qtbot.waitUntil(lambda: window.models.row_of(str(target)) is not None, timeout=10000)
    assert manager.library_page.table_model.row_of(str(target)) is not None
    status = manager.downloads_page.model.index(0).data(DownloadListModel.StatusRole)
    assert status.startswith("Done")


def test_pause_and_resume_from_the_downloads_tab(qtbot, open_window, paths: Paths, hub,
                                                 starter_gguf: Path) -> None:
    window, manager = _start_throttled_download(qtbot, open_window, paths, hub, starter_gguf,
                                                4_000_000)
    downloads = manager.downloads_page
    qtbot.waitUntil(lambda: downloads.pause_button.isEnabled(), timeout=5000)
    indicator = window.statusBar().findChild(DownloadIndicator)
    qtbot.waitUntil(lambda: " %" in indicator.text(), timeout=5000)
    assert indicator.text().startswith(f"Downloading {HUB_NAME}: ")
    downloads.pause_button.click()
    def state() -> str:
        return downloads.model.index(0).data(DownloadListModel.StateRole)

    qtbot.waitUntil(lambda: state() == "paused", timeout=5000)
    assert indicator.isHidden()
    kept = sum(p.stat().st_size for p in (paths.data_dir / "downloads").glob("*.part"))
    assert kept > 0
    hub.rate = None
    with qtbot.waitSignal(window.downloads.file_ready, timeout=60000):
        downloads.resume_button.click()
    starts = [seen.range_start for seen in hub.file_requests(HUB_NAME)]
    assert starts[0] in (None, 0) and starts[-1] == kept  # it went on from the bytes kept
    assert hub.sent(HUB_NAME) < starter_gguf.stat().st_size * 1.2  # not downloaded twice


def test_a_download_goes_on_after_the_app_is_closed_and_opened_again(
        qtbot, open_window, paths: Paths, hub, starter_gguf: Path) -> None:
    window, _manager = _start_throttled_download(qtbot, open_window, paths, hub, starter_gguf,
                                                 3_000_000)
    window.close()
    hub.rate = None
    reopened = MainWindow(Profile.open(paths), fetch_starter=False)
    qtbot.addWidget(reopened)
    with qtbot.waitSignal(reopened.downloads.file_ready, timeout=60000):
        pass
    reopened.close()
    assert (paths.models_dir / REPO / HUB_NAME).stat().st_size == starter_gguf.stat().st_size
    assert len(hub.file_requests(HUB_NAME)) >= 2


def test_offline_hub_gives_a_clear_message_and_the_library_keeps_working(
        qtbot, open_window, model_paths: Paths) -> None:
    window = open_window(model_paths)
    window.profile.settings.set("hub_endpoint", "http://127.0.0.1:9")  # nothing listens
    manager = window.open_model_manager()
    manager.tabs.setCurrentWidget(manager.hub_page)
    manager.hub_page.search("qwen")
    banner = manager.hub_page.banner
    qtbot.waitUntil(banner.isVisible, timeout=20000)
    assert "reach" in banner.label.text()
    assert manager.library_page.table_model.rowCount() == 1


def test_a_model_too_big_for_this_computer_is_not_loaded_ahead(
        qtbot, open_window, model_paths: Paths, model_path: str) -> None:
    info = read_gguf_info(model_path)
    if model_memory_bytes(info, 1 << 20, "f32", "f32") < detect_hardware().ram_available:
        pytest.skip("this computer has room even for a million-token f32 cache")
    settings = Profile.open(model_paths).settings
    settings.set_model_override(model_path, "n_ctx", 1 << 20)
    settings.set_model_override(model_path, "type_k", "f32")
    settings.set_model_override(model_path, "type_v", "f32")
    window = open_window(model_paths)
    window._model_chosen(window.model_picker.currentIndex())
    assert "may not fit" in window.banner.label.text()
    assert window.bridge.client.loaded_models() == []


def test_downloading_a_file_that_may_not_fit_asks_first(qtbot, open_window, paths: Paths,
                                                        hub, starter_gguf: Path) -> None:
    _add_starter_repo(hub, starter_gguf)
    window = open_window(paths)
    window.profile.settings.set("n_ctx", 1 << 20)
    window.profile.settings.set("type_k", "f32")
    window.profile.settings.set("type_v", "f32")
    manager = window.open_model_manager()
    _open_repo(qtbot, manager)
    page = manager.hub_page
    if page.files.fit_at(0).label == "fits":
        pytest.skip("this computer has room even for a million-token f32 cache")
    page.files_view.selectRow(0)
    assert not page.download()
    assert page.fit_warning is not None and page.fit_warning.isVisible()
    assert "needs" in page.fit_warning.text()
    assert window.downloads.queue.jobs == []
    page.fit_warning.button(QMessageBox.StandardButton.No).click()
    assert window.downloads.queue.jobs == []


@pytest.fixture
def no_system_keyring() -> Iterator[None]:
    """Tokens go to the profile's private file, never to this computer's real keyring."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_a_gated_model_downloads_once_the_access_token_is_saved(
        qtbot, open_window, paths: Paths, hub, tmp_path: Path, no_system_keyring) -> None:
    model = write_gguf(tmp_path / "gated-Q4_0.gguf", context=2048, tensors=4)
    hub.add_repo("org/Gated-GGUF", {model.name: model}, gated=True)
    window = open_window(paths)
    manager = window.open_model_manager()
    page = manager.hub_page
    manager.tabs.setCurrentWidget(page)
    with qtbot.waitSignal(page.repos.modelReset, timeout=15000):
        page.search("gated")
    assert page.repos.index(0).data().endswith(" · gated")
    page.results_view.setCurrentIndex(page.repos.index(0))
    qtbot.waitUntil(lambda: page.files.rowCount() == 1, timeout=15000)
    assert "downloads need your access token" in page.repo_title.text()
    page.files_view.selectRow(0)
    page.download(confirmed=True)
    downloads = manager.downloads_page
    def state() -> str:
        return downloads.model.index(0).data(DownloadListModel.StateRole)

    qtbot.waitUntil(lambda: state() == "failed", timeout=15000)
    assert "access token" in downloads.model.index(0).data(DownloadListModel.StatusRole)
    assert downloads.resume_button.text() == "Retry"
    page.set_token(f"  {hub.token}\n")
    qtbot.waitUntil(lambda: "Access token saved" in page.status.text(), timeout=5000)
    assert "readable only by you" in page.status.text()
    with qtbot.waitSignal(window.downloads.file_ready, timeout=15000):
        downloads.resume_button.click()
    assert (paths.models_dir / "org/Gated-GGUF" / model.name).read_bytes() == model.read_bytes()
    assert hub.file_requests(model.name)[-1].authorization == f"Bearer {hub.token}"
    page.set_token("")
    qtbot.waitUntil(lambda: "removed" in page.status.text(), timeout=5000)


def test_a_gguf_dropped_on_the_library_is_added_as_the_user_chooses(
        qtbot, open_window, paths: Paths, starter_gguf: Path, tmp_path: Path) -> None:
    loose = tmp_path / "dropped.gguf"
    os.link(starter_gguf, loose)
    window = open_window(paths)
    page = window.open_model_manager().library_page
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(loose)), QUrl.fromLocalFile(str(tmp_path / "a.txt"))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    page.dropEvent(drop)
    question = page.add_question
    assert question.isVisible() and "dropped.gguf" in question.text()
    link = next(b for b in question.buttons() if b.text() == "Use where it is")
    with qtbot.waitSignal(page.library_changed, timeout=5000):
        link.click()
    assert window.models.row_of(str(loose)) is not None
    assert window.profile.settings.get("library_files") == [str(loose)]
    assert not list(paths.models_dir.glob("*.gguf"))


def _close_next_modal_dialog(qtbot) -> None:
    """Reject the modal dialog a click opens (a file dialog, a question), as a user would."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def reject() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, reject)
        else:
            dialog.reject()

    QTimer.singleShot(0, reject)


def test_every_library_and_hub_button_can_be_clicked(qtbot, open_window, model_paths: Paths,
                                                      model_path: str, hub) -> None:
    window = open_window(model_paths)
    manager = window.open_model_manager()
    library = manager.library_page
    for button in (library.add_button, library.link_button, library.rename_button,
                   library.delete_button):
        _close_next_modal_dialog(qtbot)
        button.click()  # opens its dialog, which is cancelled: nothing changes
    assert Path(model_path).exists() and library.table_model.rowCount() == 1
    assert "display_name" not in window.profile.settings.model_overrides(model_path)
    hub.add_repo("org/Clicked-GGUF", {"c-Q4_0.gguf": b"GGUF"})
    manager.tabs.setCurrentWidget(manager.hub_page)
    manager.hub_page.search_edit.setText("clicked")
    with qtbot.waitSignal(manager.hub_page.repos.modelReset, timeout=15000):
        manager.hub_page.search_button.click()
    assert manager.hub_page.repos.index(0).data().startswith("org/Clicked-GGUF")


def test_library_changes_never_load_another_model(qtbot, open_window, model_paths: Paths,
                                                  model_path: str) -> None:
    other = model_paths.models_dir / "another-model.gguf"  # sorts before the starter
    os.link(model_path, other)
    Profile.open(model_paths).settings.set("default_model", model_path)
    window = open_window(model_paths)
    assert window.current_model_path() == model_path  # the default model, not the first
    loads: list[str] = []
    client = window.bridge.client
    real_load = client.load
    client.load = lambda spec: loads.append(spec.path) or real_load(spec)
    manager = window.open_model_manager()
    page = manager.library_page
    assert page.select_path(model_path)
    with qtbot.waitSignal(page.library_changed, timeout=10000):
        page.rename("Starter")
    manager.refresh_hardware()
    assert page.current_path() == model_path  # re-assessing keeps the selection
    assert loads == [] and window.current_model_path() == model_path
    assert page.select_path(str(other))
    page.make_default()  # "Use for new chats": for new chats, not the open one
    assert window.profile.settings.get("default_model") == str(other)
    assert window.current_model_path() == model_path and loads == []
    window.new_chat()
    assert window.current_model_path() == str(other) and loads == [str(other)]


def test_cancel_then_quit_does_not_resume_the_download(qtbot, open_window, paths: Paths, hub,
                                                      starter_gguf: Path) -> None:
    window, manager = _start_throttled_download(qtbot, open_window, paths, hub, starter_gguf,
                                                2_000_000)
    qtbot.waitUntil(manager.downloads_page.cancel_button.isEnabled, timeout=5000)
    manager.downloads_page.cancel_button.click()
    window.close()  # before the transfer's end reached the window
    reopened = Profile.open(paths).download_queue
    assert [job.state for job in reopened.jobs] == ["cancelled"]
    assert not list((paths.data_dir / "downloads").glob("*.part"))


def test_copying_a_model_in_can_be_stopped(qtbot, open_window, paths: Paths,
                                           starter_gguf: Path, tmp_path: Path) -> None:
    source = tmp_path / "big.gguf"
    os.link(starter_gguf, source)
    window = open_window(paths)
    page = window.open_model_manager().library_page
    page.add_file(str(source), "copy")
    assert page.stop_copy_button.isVisibleTo(page)
    page.stop_copy_button.click()
    qtbot.waitUntil(lambda: not page.stop_copy_button.isVisibleTo(page), timeout=10000)
    assert not page.banner.isVisibleTo(page)  # stopping is not an error
    assert not [p for p in paths.models_dir.iterdir() if p.name != ".gitkeep"]


def test_closing_the_window_stops_a_copy_and_leaves_no_hidden_file(
        qtbot, open_window, paths: Paths, starter_gguf: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "big.gguf"
    os.link(starter_gguf, source)
    part_way = threading.Event()
    report = model_import._Copier._report

    def slow_disk(copier: model_import._Copier, final: bool) -> None:
        report(copier, final)
        part_way.set()                      # a first piece is on disk ...
        assert copier.cancel is not None
        copier.cancel.wait(timeout=30)      # ... and the rest comes slowly, until stopped

    monkeypatch.setattr(model_import._Copier, "_report", slow_disk)
    window = open_window(paths)
    window.open_model_manager().library_page.add_file(str(source), "copy")
    qtbot.waitUntil(part_way.is_set, timeout=10000)
    hidden = paths.models_dir / ".big.gguf.importing"
    assert hidden.stat().st_size > 0
    window.close()                          # cancels the copy and waits for it to clean up
    assert not hidden.exists() and not (paths.models_dir / "big.gguf").exists()


def test_a_download_broken_off_by_the_network_is_retried_by_itself(
        qtbot, open_window, paths: Paths, hub, tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "flaky-Q4_0.gguf", context=2048, tensors=4)
    hub.add_repo("org/Flaky-GGUF", {model.name: model})
    hub.fail(model.name, "500", times=3)  # the 4th request is answered
    window = open_window(paths)
    window.downloads.retry_delays = (0.05, 0.05, 0.05)
    statuses: list[str] = []
    window.downloads.job_changed.connect(lambda job_id: statuses.append(
        window.downloads.queue.get(job_id).error))
    hub_file = window.profile.hub_client().listing("org/Flaky-GGUF").files[0]
    with qtbot.waitSignal(window.downloads.file_ready, timeout=15000):
        window.downloads.add(jobs_for(hub_file))
    assert (paths.models_dir / "org/Flaky-GGUF" / model.name).read_bytes() == model.read_bytes()
    tries = [s for s in statuses if "Trying again" in s]
    assert tries[0].startswith("Hugging Face had a server error (500)")
    assert tries[0].endswith("(1 of 3).") and tries[-1].endswith("(3 of 3).")


def test_automatic_retries_end_and_leave_the_download_to_the_user(
        qtbot, open_window, paths: Paths, hub, tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "down-Q4_0.gguf", context=2048, tensors=4)
    hub.add_repo("org/Down-GGUF", {model.name: model})
    hub.fail(model.name, "500", times=10)
    window = open_window(paths)
    window.downloads.retry_delays = (0.05,)
    hub_file = window.profile.hub_client().listing("org/Down-GGUF").files[0]
    [job] = window.downloads.add(jobs_for(hub_file))
    queue = window.downloads.queue
    qtbot.waitUntil(lambda: queue.get(job.id).state == "failed"
                    and "Trying again" not in queue.get(job.id).error, timeout=15000)
    assert len(hub.file_requests(model.name)) == 2  # the first try and one retry
    hub.faults.clear()
    with qtbot.waitSignal(window.downloads.file_ready, timeout=15000):
        window.downloads.resume(job.id)  # the user's Retry


def test_a_second_window_on_the_same_profile_leaves_the_downloads_to_the_first(
        qtbot, open_window, paths: Paths, hub, tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "two-Q4_0.gguf", context=2048, tensors=4)
    hub.add_repo("org/Two-GGUF", {model.name: model})
    first = open_window(paths)
    second = open_window(paths)
    assert first.downloads.owner and not second.downloads.owner
    hub_file = second.profile.hub_client().listing("org/Two-GGUF").files[0]
    with pytest.raises(DownloadError, match="Another Hearth window"):
        second.downloads.add(jobs_for(hub_file))
    first.close()  # the lock passes on
    third = open_window(paths)
    assert third.downloads.owner
    with qtbot.waitSignal(third.downloads.file_ready, timeout=15000):
        third.downloads.add(jobs_for(hub_file))


def test_more_search_results_on_request(qtbot, open_window, paths: Paths, hub) -> None:
    for number in range(3):
        hub.add_repo(f"org/Many-{number}-GGUF", {"m-Q4_0.gguf": b"GGUF"}, downloads=number)
    window = open_window(paths)
    manager = window.open_model_manager()
    page = manager.hub_page
    manager.tabs.setCurrentWidget(page)
    with qtbot.waitSignal(page.repos.modelReset, timeout=15000):
        page.search("many", limit=2)
    assert page.repos.rowCount() == 2 and page.more_button.isVisible()
    with qtbot.waitSignal(page.repos.modelReset, timeout=15000):
        page.more_button.click()
    assert page.repos.rowCount() == 3 and not page.more_button.isVisible()
    assert hub.requests[-1].params["limit"] == ["52"]
