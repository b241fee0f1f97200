"""The item models behave as Qt requires (qtmodeltester) and show what is stored."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.core.library import ModelLibrary
from app.core.paths import Paths
from app.storage.database import open_database
from app.storage.history import History
from app.storage.schema import MessageStatus
from app.ui.composer import Composer
from app.ui.conversation_list_model import ConversationListModel
from app.ui.message_list_model import MessageListModel, MessageRow
from app.ui.model_list_model import ModelListModel


def test_conversation_list_model(qtmodeltester, paths: Paths) -> None:
    history = History(open_database(paths.database_path))
    first = history.create_conversation()
    history.add_message(first.id, "user", "Tell me about owls")
    history.create_conversation()
    model = ConversationListModel(history)
    model.reload()
    qtmodeltester.check(model)
    assert model.rowCount() == 2
    assert model.index(1).data() == "Tell me about owls"
    assert model.index(1).data(ConversationListModel.IdRole) == first.id
    assert model.row_of(first.id) == 1


def test_message_list_model_grows_while_streaming(qtmodeltester, qtbot) -> None:
    model = MessageListModel()
    model.append(MessageRow(role="user", text="hi"))
    row = model.append(MessageRow(role="assistant", text="", status=MessageStatus.STREAMING))
    qtmodeltester.check(model)
    with qtbot.waitSignal(model.dataChanged, timeout=1000):
        model.append_text(row, "Hel")
    model.append_text(row, "lo")
    model.update(row, status=MessageStatus.COMPLETE, details="2 tokens")
    index = model.index(row)
    assert index.data() == "Hello"
    assert index.data(MessageListModel.RoleRole) == "assistant"
    assert index.data(MessageListModel.StatusRole) == MessageStatus.COMPLETE
    assert index.data(MessageListModel.DetailsRole) == "2 tokens"


def test_model_list_model_lists_gguf_files_once(qtmodeltester, tmp_path: Path) -> None:
    for name in ("b.gguf", "a-00001-of-00002.gguf", "a-00002-of-00002.gguf", "notes.txt"):
        (tmp_path / name).write_bytes(b"GGUF")
    model = ModelListModel(ModelLibrary(tmp_path))
    model.reload()
    qtmodeltester.check(model)
    names = [model.index(i).data() for i in range(model.rowCount())]
    assert [n.split("  ")[0] for n in names] == ["a", "b"]
    assert model.row_of(str(tmp_path / "b.gguf")) == 1


def test_composer_enter_sends_and_shift_enter_adds_a_line(qtbot) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    qtbot.keyClicks(composer, "line one")
    with qtbot.assertNotEmitted(composer.submitted):
        qtbot.keyClick(composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer, "line two")
    with qtbot.waitSignal(composer.submitted, timeout=1000):
        qtbot.keyClick(composer, Qt.Key.Key_Return)
    assert composer.toPlainText() == "line one\nline two"


def test_conversation_list_reads_a_page_at_a_time(qtmodeltester, paths: Paths) -> None:
    from app.ui.conversation_list_model import PAGE

    history = History(open_database(paths.database_path))
    ids = [history.create_conversation(title=f"chat {i}").id for i in range(PAGE + 30)]
    history.set_pinned(ids[0], True)
    model = ConversationListModel(history)
    model.reload()
    assert model.rowCount() == PAGE and model.canFetchMore()
    assert model.index(0).data() == "📌 chat 0"               # pinned first
    assert model.index(0).data(ConversationListModel.PinnedRole) is True
    model.fetchMore()
    assert model.rowCount() == PAGE + 30 and not model.canFetchMore()
    assert sorted(model.conversation_id(i) for i in range(model.rowCount())) == sorted(ids)
    qtmodeltester.check(model)


def test_library_table_model_shows_usable_and_unusable_files(qtmodeltester,
                                                             model_paths: Paths) -> None:
    from app.core.fit import Fit
    from app.ui.library_table_model import COLUMNS, LibraryTableModel

    (model_paths.models_dir / "broken.gguf").write_bytes(b"GGUF\x03\x00\x00\x00")
    fit = Fit("tight", 900, 1000, "RAM", "tight: needs 900 bytes of 1000 bytes free RAM")
    model = LibraryTableModel(lambda _m: fit)
    model.set_models(ModelLibrary(model_paths.models_dir).scan())
    qtmodeltester.check(model)
    cells = [[model.index(r, c).data() for c in range(len(COLUMNS))] for r in range(2)]
    assert cells[0][COLUMNS.index("Fit")] == "unusable" and cells[0][1:4] == [""] * 3
    assert cells[0][COLUMNS.index("File")] == "8 bytes"
    assert cells[1][COLUMNS.index("Quant")] == "Q4_1"
    assert cells[1][COLUMNS.index("Fit")] == "tight"
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Name"
    assert "too short to be a model" in model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)


def test_hub_models_list_repos_and_files(qtmodeltester) -> None:
    from app.core.fit import Fit
    from app.core.hub import HubFile, HubPart, HubRepo
    from app.ui.hub_models import HubFileTableModel, HubRepoListModel

    repos = HubRepoListModel()
    repos.set_repos([HubRepo("org/A-GGUF", 1200, 3, ("gguf",), True, "2024-01-01")])
    qtmodeltester.check(repos)
    assert repos.index(0).data() == "org/A-GGUF\n1,200 downloads · 3 likes · gated"
    small = HubFile("org/A-GGUF", "a" * 40, "a-Q4_0.gguf",
                    (HubPart("a-Q4_0.gguf", 1000, "0" * 64),), 1000, "Q4_0")
    big = HubFile("org/A-GGUF", "a" * 40, "a-F16.gguf",
                  (HubPart("a-F16.gguf", 4000, "1" * 64),), 4000, "F16")
    files = HubFileTableModel()
    files.set_files([(small, Fit("fits", 1500, 9000, "RAM", "fits")), (big, None)], small)
    qtmodeltester.check(files)
    assert [files.index(0, c).data() for c in range(5)] == \
        ["Q4_0", "1 KB", "2 KB", "fits", "★ recommended"]
    assert [files.index(1, c).data() for c in range(5)] == ["F16", "4 KB", "…", "…", ""]


def test_hub_files_are_grouped_by_quantisation(qtmodeltester) -> None:
    from app.core.hub import HubFile, HubPart
    from app.ui.hub_models import HubFileTableModel

    def hub_file(name: str, size: int, quant: str) -> HubFile:
        return HubFile("org/A-GGUF", "a" * 40, name, (HubPart(name, size, "0" * 64),), size,
                       quant)

    files = HubFileTableModel()
    files.set_files([(hub_file("a-Q8_0.gguf", 800, "Q8_0"), None),
                     (hub_file("chat-Q4_0.gguf", 420, "Q4_0"), None),
                     (hub_file("base-Q4_0.gguf", 400, "Q4_0"), None),
                     (hub_file("odd.gguf", 500, ""), None)], None)
    qtmodeltester.check(files)
    assert [files.index(r, 0).data() for r in range(4)] == [
        "Q4_0 · base-Q4_0.gguf", "Q4_0 · chat-Q4_0.gguf", "odd.gguf", "Q8_0"]
