"""A dialog that edits one layer of settings (a model's or a conversation's), from the schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SettingsError
from app.core.generation_config import effective_values, generation_config
from app.core.settings import SCHEMA, Setting, Settings, validate_values

_MULTILINE = {"system_prompt", "chat_template"}
_LABELS = {
    "display_name": "Display name (empty = file name)",
    "n_ctx": "Context length (0 = automatic)", "n_threads": "Threads (0 = automatic)",
    "n_threads_batch": "Prompt threads (0 = automatic)", "n_gpu_layers": "GPU layers (-1 = all)",
    "flash_attn": "Flash attention", "type_k": "KV cache type (K)",
    "type_v": "KV cache type (V)", "use_mmap": "Memory-map the file",
    "use_mlock": "Lock in RAM", "chat_format": "Chat format (empty = the file's)",
    "chat_template": "Custom chat template", "repeat_penalty": "Repeat penalty",
    "presence_penalty": "Presence penalty", "frequency_penalty": "Frequency penalty",
    "seed": "Seed (-1 = random)", "max_tokens": "Longest reply (tokens)",
    "stop": "Stop strings (one per line)", "system_prompt": "System prompt",
    "context_policy": "When the chat outgrows the context", "top_p": "Top-p",
    "top_k": "Top-k", "min_p": "Min-p", "temperature": "Temperature",
}


def _editor(spec: Setting) -> QWidget:
    if spec.type is bool:
        return QCheckBox()
    if spec.choices:
        box = QComboBox()
        box.addItems(list(spec.choices))
        return box
    if spec.type is int:
        whole = QSpinBox()
        whole.setRange(int(spec.minimum if spec.minimum is not None else -2**31),
                       int(min(spec.maximum if spec.maximum is not None else 2**31 - 1,
                               2**31 - 1)))
        return whole
    if spec.type is float:
        number = QDoubleSpinBox()
        number.setDecimals(2)
        number.setSingleStep(0.05)
        number.setRange(spec.minimum or 0.0, spec.maximum or 1e9)
        return number
    if spec.type is list or spec.name in _MULTILINE:
        edit = QPlainTextEdit()
        edit.setMaximumHeight(90)
        return edit
    return QLineEdit()


def _read(editor: QWidget, spec: Setting) -> Any:
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QComboBox):
        return editor.currentText()
    if isinstance(editor, QSpinBox | QDoubleSpinBox):
        return editor.value()
    if isinstance(editor, QPlainTextEdit):
        text = editor.toPlainText()
    else:
        assert isinstance(editor, QLineEdit)  # _editor's only other kind
        text = editor.text()
    return [line for line in text.splitlines() if line] if spec.type is list else text


def _write(editor: QWidget, value: Any) -> None:
    if isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QComboBox):
        editor.setCurrentText(str(value))
    elif isinstance(editor, QSpinBox | QDoubleSpinBox):
        editor.setValue(value)
    elif isinstance(editor, QPlainTextEdit):
        editor.setPlainText("\n".join(value) if isinstance(value, list) else str(value))
    else:
        assert isinstance(editor, QLineEdit)  # _editor's only other kind
        editor.setText(str(value))


class SettingsDialog(QDialog):
    """Edits ``names`` for one layer; ``values()`` returns what differs from ``inherited``."""

    def __init__(self, title: str, layer: str, names: list[str], current: dict[str, Any],
                 inherited: dict[str, Any], parent: QWidget | None = None,
                 check: Callable[[dict[str, Any]], object] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._layer = layer
        self._check = check
        self._inherited = inherited
        self.editors: dict[str, QWidget] = {}
        form = QFormLayout()
        for name in names:
            spec = SCHEMA[name]
            editor = _editor(spec)
            editor.setToolTip(spec.doc)
            _write(editor, current.get(name, inherited[name]))
            form.addRow(_LABELS.get(name, name.replace("_", " ").capitalize()), editor)
            self.editors[name] = editor
        body = QWidget()
        body.setLayout(form)
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #8a1c1c;")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(520, 600)

    def values(self) -> dict[str, Any]:
        """The edited values that differ from the inherited ones (validated)."""
        raw = {name: _read(editor, SCHEMA[name]) for name, editor in self.editors.items()}
        changed = {name: value for name, value in raw.items()
                   if value != self._inherited[name]}
        return validate_values(changed, layer=self._layer)

    def restore_defaults(self) -> None:
        """Show the inherited values again (saving then removes this layer's values)."""
        for name, editor in self.editors.items():
            _write(editor, self._inherited[name])

    def accept(self) -> None:
        """Close only when every value is valid; otherwise say what is wrong."""
        try:
            values = self.values()
            if self._check is not None:
                self._check(values)
        except SettingsError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        super().accept()


def model_settings_dialog(settings: Settings, path: str, parent: QWidget) -> SettingsDialog:
    """The dialog for one model's own settings, checked as a whole before it closes."""
    names = [name for name, spec in SCHEMA.items() if spec.per_model]
    return SettingsDialog(f"Settings for {Path(path).name}", "model", names,
                          settings.model_overrides(path),
                          {name: settings.get(name) for name in names}, parent,
                          check=lambda values: generation_config(settings, path,
                                                                 model_values=values))


def chat_settings_dialog(settings: Settings, model_path: str, current: dict[str, Any],
                         parent: QWidget) -> SettingsDialog:
    """The dialog for one chat's own settings, over what it inherits from its model."""
    names = [name for name, spec in SCHEMA.items() if spec.per_conversation]
    inherited = effective_values(settings, model_path)
    return SettingsDialog("Settings for this chat", "conversation", names, current,
                          {name: inherited[name] for name in names}, parent)
