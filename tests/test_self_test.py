"""``main.py --self-test``: headless, one JSON object on success, one line on failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.storage.database import open_database
from app.storage.history import History
from app.storage.schema import MessageStatus

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


def test_self_test_chats_and_saves_the_conversation(tmp_path: Path, starter_gguf: Path) -> None:
    profile = tmp_path / "profile"
    result = _run("--data-dir", str(profile), "--self-test", "--prompt", "Say hi in French.")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["reply"].strip() and report["tokens"] > 0
    assert report["tokens_per_second"] > 0 and report["ttft_s"] > 0
    assert Path(report["model"]).parent == profile / "models"
    assert Path(report["database"]) == profile / "history.sqlite3"
    history = History(open_database(Path(report["database"])))
    user, assistant = history.messages(report["conversation_id"])
    assert user.content == "Say hi in French."
    assert assistant.content == report["reply"]
    assert assistant.status == MessageStatus.COMPLETE
    assert assistant.completion_tokens == report["tokens"]


def test_self_test_with_a_missing_model_fails_in_one_line(tmp_path: Path) -> None:
    result = _run("--data-dir", str(tmp_path / "p"), "--self-test",
                  "--model", str(tmp_path / "nope.gguf"))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.gguf" in lines[0] and "does not exist" in lines[0]


def test_self_test_with_a_damaged_model_fails_in_one_line(tmp_path: Path,
                                                          starter_gguf: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(starter_gguf.read_bytes()[:2_000_000])
    result = _run("--data-dir", str(tmp_path / "p"), "--self-test", "--model", str(broken))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "incomplete" in lines[0]
