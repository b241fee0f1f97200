"""The access token: in a keyring when one works, else in a file only its owner can read."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
import pytest
from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from app.core.credentials import TOKEN_FILE, delete_token, load_token, save_token
from app.core.errors import HubError

Install = Callable[[Any], Any]  # installs a keyring backend for the test, returns it


class MemoryKeyring(KeyringBackend):
    """A working keyring that keeps passwords in a dict (installed by tests only)."""

    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 - keyring's classproperty
        # Not viable for keyring's own detection: defining this class registers it, and
        # it must never become (part of) the default backend other tests see.
        raise RuntimeError("a test keyring is only ever installed explicitly")

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("no such password")


class LockedKeyring(MemoryKeyring):
    """A keyring the user did not unlock."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("the keyring is locked")


class BrokenKeyring(MemoryKeyring):
    """A backend failing with something that is not a KeyringError (e.g. a D-Bus error)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("dbus went away")


@pytest.fixture
def use_keyring() -> Iterator[Install]:
    """Install a keyring backend for one test, then put the previous one back."""
    previous = keyring.get_keyring()
    installed: list[KeyringBackend] = []

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        installed.append(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


def test_a_working_keyring_holds_the_token(tmp_path: Path, use_keyring: Install) -> None:
    backend = use_keyring(MemoryKeyring())
    store = save_token(tmp_path, "  hf_abc123\n")
    assert store.where == "keyring" and store.path is None
    assert "system keyring" in store.message
    assert backend.passwords == {("hearth", "huggingface"): "hf_abc123"}
    assert not (tmp_path / TOKEN_FILE).exists()
    assert load_token(tmp_path) == "hf_abc123"
    delete_token(tmp_path)
    assert load_token(tmp_path) is None and backend.passwords == {}
    delete_token(tmp_path)  # deleting twice is fine


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring, LockedKeyring])
def test_without_a_usable_keyring_the_token_goes_to_a_private_file(
        tmp_path: Path, use_keyring: Install, backend: type[KeyringBackend]) -> None:
    use_keyring(backend())
    store = save_token(tmp_path / "config", "hf_secret")
    path = tmp_path / "config" / TOKEN_FILE
    assert (store.where, store.path) == ("file", path)
    assert store.message == (f"No system keyring is available; the token is stored in {path}, "
                             "readable only by you.")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "hf_secret\n"
    assert load_token(tmp_path / "config") == "hf_secret"
    save_token(tmp_path / "config", "hf_other")  # replaced, still private
    assert load_token(tmp_path / "config") == "hf_other"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    delete_token(tmp_path / "config")
    assert not path.exists() and load_token(tmp_path / "config") is None


@pytest.mark.allow_warnings
def test_a_broken_keyring_backend_falls_back_to_the_file(
        tmp_path: Path, use_keyring: Install, caplog: pytest.LogCaptureFixture) -> None:
    use_keyring(BrokenKeyring())
    assert save_token(tmp_path, "hf_x").where == "file"
    assert load_token(tmp_path) == "hf_x"
    assert any("dbus went away" in r.getMessage() for r in caplog.records
               if r.levelname == "WARNING")


def test_a_keyring_that_appears_later_takes_over_from_the_file(
        tmp_path: Path, use_keyring: Install) -> None:
    use_keyring(fail.Keyring())
    save_token(tmp_path, "hf_old")
    use_keyring(MemoryKeyring())
    assert load_token(tmp_path) == "hf_old"  # still found in the file
    assert save_token(tmp_path, "hf_new").where == "keyring"
    assert not (tmp_path / TOKEN_FILE).exists()  # no stale copy left behind
    assert load_token(tmp_path) == "hf_new"


def test_a_token_file_readable_by_others_is_made_private(tmp_path: Path,
                                                        use_keyring: Install) -> None:
    use_keyring(fail.Keyring())
    path = tmp_path / TOKEN_FILE
    path.write_text("hf_loose\n")
    path.chmod(0o644)
    assert load_token(tmp_path) == "hf_loose"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("text", ["", "   \n", "hf_a b", "hf_\u00e9", "hf_a\0b"])
def test_text_that_cannot_be_a_token_is_refused(tmp_path: Path, text: str,
                                                use_keyring: Install) -> None:
    use_keyring(MemoryKeyring())
    with pytest.raises(HubError) as caught:
        save_token(tmp_path, text)
    assert caught.value.hint.startswith(("Paste", "Copy"))
    assert load_token(tmp_path) is None
