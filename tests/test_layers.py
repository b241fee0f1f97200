"""The layers import one way, in the order ARCHITECTURE.md states: core, storage, engine,
chat, ui. Core, storage, engine and chat never import Qt; only the engine imports llama_cpp
(and the GUI process never loads it); only storage touches SQLAlchemy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT_FREE = ["core", "storage", "engine", "chat"]
# What each layer may import from app (ARCHITECTURE.md, "Layers"). The layers above the
# engine use only its GUI-side modules: the rest runs in the engine process.
ENGINE_GUI_SIDE = {"engine.client", "engine.state_files"}
MAY_IMPORT = {
    "core": {"core"},
    "storage": {"core", "storage"},
    "engine": {"core", "engine"},
    "chat": {"core", "storage", *ENGINE_GUI_SIDE, "chat"},
    "ui": {"core", "storage", *ENGINE_GUI_SIDE, "chat", "ui"},
}
THIRD_PARTY_HOME = {"PySide6": {"ui"}, "llama_cpp": {"engine"}, "sqlalchemy": {"storage"},
                    "alembic": {"storage"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _app_imports(path: Path) -> set[str]:
    """``layer`` or ``layer.module`` for each ``app.…`` import in ``path`` (nested ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                   else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                   and node.level == 0 else [])
        if isinstance(node, ast.ImportFrom) and node.module in ("app", "app.engine"):
            modules = [f"{node.module}.{alias.name}" for alias in node.names]
        names.update(".".join(m.split(".")[1:3]) for m in modules
                     if m.startswith("app.") and m.count(".") >= 1)
    return names


def _allowed(target: str, allowed: set[str]) -> bool:
    layer = target.split(".")[0]
    return layer in allowed or target in allowed or (
        layer not in MAY_IMPORT)   # app/__init__ names (APP_NAME, the version)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    offenders = []
    for layer, allowed in MAY_IMPORT.items():
        for path in (ROOT / "app" / layer).rglob("*.py"):
            offenders += [f"{path.relative_to(ROOT)} imports app.{target}"
                          for target in sorted(_app_imports(path))
                          if not _allowed(target, allowed)]
    assert offenders == []


def test_the_layer_rule_catches_an_upward_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from app.ui.main_window import MainWindow\n"
                      "def later():\n    from app.engine import worker\n")
    assert _app_imports(sneaky) == {"ui.main_window", "engine.worker"}
    assert not _allowed("ui.main_window", MAY_IMPORT["storage"])
    assert not _allowed("engine.worker", MAY_IMPORT["chat"])
    assert _allowed("engine.client", MAY_IMPORT["chat"])


def test_third_party_libraries_stay_in_their_layer() -> None:
    offenders = [f"{path.relative_to(ROOT)} imports {library}"
                 for path in (ROOT / "app").rglob("*.py")
                 for library, homes in THIRD_PARTY_HOME.items()
                 if library in _imports(path)
                 and path.relative_to(ROOT / "app").parts[0] not in homes]
    assert offenders == []


def test_lower_layers_never_import_pyside6() -> None:
    offenders = [str(path.relative_to(ROOT)) for layer in QT_FREE
                 for path in (ROOT / "app" / layer).rglob("*.py")
                 if "PySide6" in _imports(path)]
    assert offenders == []


def test_only_the_engine_imports_llama_cpp() -> None:
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "app").rglob("*.py")
                 if "llama_cpp" in _imports(path)
                 and path.relative_to(ROOT / "app").parts[0] != "engine"]
    assert offenders == []


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(','.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    return {name.split(".")[0] for name in out.strip().split(",")}


def test_importing_the_qt_free_layers_loads_no_qt() -> None:
    modules = _loaded_after(
        "import app.core.settings, app.core.protocol, app.core.starter_model, "
        "app.storage.history, app.storage.reply_writer, app.engine.client, "
        "app.chat.turn, app.chat.self_test")
    assert "PySide6" not in modules
    assert "llama_cpp" not in modules  # the client side of the engine stays light


def test_the_gui_process_never_loads_llama_cpp() -> None:
    modules = _loaded_after("import app.ui.application, app.ui.main_window")
    assert "PySide6" in modules
    assert "llama_cpp" not in modules
