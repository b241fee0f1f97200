"""The Hugging Face access token: in the system keyring, or a private file where none exists.

Some systems have no usable keyring (a headless Linux without Secret Service, a minimal
desktop): ``keyring`` then offers only its "fail" backend, or a "null" one that silently
keeps nothing. There the token goes to ``<config_dir>/hub-token``, created with mode
0600, and the user is told so in those words.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import keyring
import keyring.errors

from app.core.errors import HubError

log = logging.getLogger(__name__)

SERVICE = "hearth"
USER = "huggingface"
TOKEN_FILE = "hub-token"


@dataclass(frozen=True)
class TokenStore:
    """Where a saved token went, and a sentence saying so to the user."""

    where: Literal["keyring", "file"]
    message: str
    path: Path | None = None  # the file, when ``where`` is "file"


def load_token(config_dir: Path) -> str | None:
    """The saved token: from the keyring, else from the fallback file; None if neither."""
    token = _keyring_token()
    if token:
        return token
    path = config_dir / TOKEN_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
            log.info("Made %s readable only by its owner", path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("Could not read the access token file %s: %s", path, exc)
        return None
    return text or None


def save_token(config_dir: Path, token: str) -> TokenStore:
    """Save the token (keyring first, else a private file) and say where it went.

    ``HubError`` if the text cannot be a token (empty, spaces, unusual characters).
    """
    token = _checked(token)
    path = config_dir / TOKEN_FILE
    if _keyring_saved(token):
        path.unlink(missing_ok=True)  # an older copy from when there was no keyring
        return TokenStore("keyring", "The token is stored in the system keyring "
                                     f"({keyring.get_keyring().name}).")
    _write_private(path, token)
    return TokenStore("file", f"No system keyring is available; the token is stored in {path}, "
                              "readable only by you.", path)


def delete_token(config_dir: Path) -> None:
    """Forget the token everywhere it may be stored."""
    try:
        keyring.delete_password(SERVICE, USER)
    except keyring.errors.PasswordDeleteError:
        pass  # there was none
    except Exception as exc:
        log.info("Could not delete the token from the keyring: %s", exc)
    (config_dir / TOKEN_FILE).unlink(missing_ok=True)


def _checked(token: str) -> str:
    token = token.strip()
    if not token:
        raise HubError("The access token is empty.",
                       "Paste a token from huggingface.co/settings/tokens.")
    if not all(33 <= ord(c) < 127 for c in token):
        raise HubError("That does not look like a Hugging Face access token: it contains "
                       "spaces or unusual characters.",
                       "Copy the token again from huggingface.co/settings/tokens.")
    return token


@contextmanager
def _keyring_trouble(action: str) -> Iterator[None]:
    """Log any keyring problem (none, locked, refused, a broken backend) and go on."""
    try:
        yield
    except keyring.errors.KeyringError as exc:
        log.info("Could not %s the system keyring (%s): %s", action, type(exc).__name__,
                 exc or "no backend")
    except Exception as exc:
        log.warning("The system keyring failed to %s it: %r", action, exc)


def _keyring_token() -> str | None:
    with _keyring_trouble("read the token from"):
        return keyring.get_password(SERVICE, USER)
    return None


def _keyring_saved(token: str) -> bool:
    with _keyring_trouble("save the token in"):
        keyring.set_password(SERVICE, USER, token)
        return keyring.get_password(SERVICE, USER) == token  # a "null" keyring keeps nothing
    return False


def _write_private(path: Path, token: str) -> None:
    """Write the token to ``path`` with mode 0600, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, 0o600)
        os.write(descriptor, (token + "\n").encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
