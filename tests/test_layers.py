"""The layers import one way: core, storage, engine and chat never import Qt; the GUI never
imports llama_cpp."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT_FREE = ["core", "storage", "engine", "chat"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


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
