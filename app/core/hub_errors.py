"""What went wrong talking to Hugging Face, in words a user can act on.

One translation for the hub browser (``huggingface_hub`` exceptions) and for downloads
(plain HTTP status codes with the hub's ``X-Error-Code`` header).
"""

from __future__ import annotations

import httpx2
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from app.core.errors import HubError

OFFLINE_NOTE = "Your models still work offline."


def unreachable(endpoint: str, reason: str) -> HubError:
    """The hub could not be reached at all (no network, DNS, refused, reset)."""
    return HubError(f"Can't reach Hugging Face at {endpoint}: {reason}. {OFFLINE_NOTE}",
                    "Check the internet connection (or the HF_ENDPOINT mirror) and try again.")


def network_reason(exc: BaseException) -> str:
    """A short reason for a transport error ("connection refused", "timed out", …)."""
    if isinstance(exc, httpx2.TimeoutException):
        return "no answer in time"
    text = str(exc).strip() or type(exc).__name__
    if "] " in text and text.startswith("["):  # "[Errno 111] Connection refused"
        text = text.split("] ", 1)[1]
    return text[:1].lower() + text[1:]


def status_problem(status: int, error_code: str, subject: str,
                   has_token: bool) -> tuple[str, str]:
    """Message and hint for an HTTP error answer about ``subject`` (a repo or a file)."""
    if error_code == "GatedRepo" or (status in (401, 403) and error_code != "RepoNotFound"):
        if has_token:
            message = (f"Hugging Face refused access to {subject}: the access token was "
                       "rejected or has no access to this gated repository.")
            hint = ("Accept the model's terms on its Hugging Face page with the account of "
                    "the token, or enter another token (Models → Discover → Access token…).")
        else:
            message = f"{subject} is gated: Hugging Face needs an access token for it."
            hint = ("Accept the model's terms on its Hugging Face page, then add an access "
                    "token (Models → Discover → Access token…).")
        return message, hint
    if error_code == "RepoNotFound" or (status == 404 and not error_code):
        return (f"{subject} was not found on Hugging Face.",
                "Check the name; private repositories also need an access token.")
    if error_code in ("EntryNotFound", "RevisionNotFound"):
        return (f"{subject} is no longer on Hugging Face (it was removed or renamed).",
                "Open the repository again to see its current files.")
    if status == 429:
        return ("Hugging Face is limiting requests from this computer right now.",
                "Wait a few minutes and try again.")
    if status >= 500:
        return (f"Hugging Face had a server error ({status}) with {subject}.",
                "This is usually temporary: try again in a few minutes.")
    return (f"Hugging Face answered {status} for {subject}.", "Try again later.")


def translate(exc: BaseException, endpoint: str, subject: str, has_token: bool) -> HubError:
    """The ``HubError`` for an exception raised by ``huggingface_hub`` or httpx2."""
    if isinstance(exc, OfflineModeIsEnabled):
        return HubError(f"Hugging Face is switched off (HF_HUB_OFFLINE is set). {OFFLINE_NOTE}",
                        "Unset HF_HUB_OFFLINE to browse and download models.")
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        code = {GatedRepoError: "GatedRepo", RevisionNotFoundError: "RevisionNotFound",
                RemoteEntryNotFoundError: "EntryNotFound"}.get(type(exc), "")
        if not code and isinstance(exc, RepositoryNotFoundError):
            code = "RepoNotFound"
        code = code or exc.response.headers.get("X-Error-Code", "")
        return HubError(*status_problem(exc.response.status_code, code, subject, has_token))
    if isinstance(exc, httpx2.TimeoutException):
        return HubError(f"Hugging Face at {endpoint} did not answer in time.",
                        "The connection may be slow or down; try again.")
    if isinstance(exc, httpx2.TransportError):
        return unreachable(endpoint, network_reason(exc))
    if isinstance(exc, ValueError):  # JSON that is not the hub's (a captive portal, a proxy)
        return HubError(f"The server at {endpoint} did not answer like Hugging Face.",
                        "Check the network (a sign-in page?) or the HF_ENDPOINT mirror.")
    raise exc
