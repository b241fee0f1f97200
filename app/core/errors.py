"""Known errors: problems a user can understand and act on, as opposed to bugs."""

from __future__ import annotations


class HearthError(Exception):
    """A known failure with a message for the user and a hint of what to do.

    Bugs are every other exception: they reach the log and the crash dialog.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ModelFileError(HearthError):
    """A model file is missing, unreadable or not a GGUF model."""


class StarterModelError(HearthError):
    """The starter model could not be fetched or verified."""


class SettingsError(HearthError):
    """A setting has a value of the wrong type or out of range."""


class NoModelChosenError(HearthError):
    """A chat was requested with no model chosen."""


class ContextFullError(HearthError):
    """The conversation no longer fits the model's context window."""


class HubError(HearthError):
    """Hugging Face could not be reached or refused a request (offline, not found, gated)."""


class DownloadError(HearthError):
    """A model download failed; what arrived is kept for a retry unless it was damaged."""


class NetworkDownloadError(DownloadError):
    """A download broke off for a reason that may pass by itself (a dropped or stalled
    connection, an unreachable or overloaded server): worth trying again automatically."""


class DiskFullError(DownloadError):
    """Not enough free disk space for a download (checked first, or hit while writing)."""


class LibraryError(HearthError):
    """A model could not be imported, linked or deleted (name clash, loaded, not ours, no space)."""
