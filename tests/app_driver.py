"""Runs the real app on a profile, sends one message and reports the reply on stdout.

For tests that need the whole app as a separate process (e.g. killing it mid-reply)::

    python -m tests.app_driver --data-dir DIR --prompt TEXT --max-tokens N

The window is built as ``app.ui.application.run_gui`` builds it (offscreen, no starter
download), the prompt is typed into the composer and sent. One line per event, flushed at
once so that a killed process has written everything it saw:

- ``SENT <conversation id>`` once the user's message is committed;
- ``DELTA <time.monotonic()> <JSON text>`` for every piece of the reply, as the window gets it;
- ``DONE <JSON stats>`` or ``ERROR <JSON message>`` when the reply ends.

Then the Qt event loop runs until the process is killed, or exits after the reply ends
(``--exit-when-done``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported; no display needed

from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__
from app.chat.profile import Profile
from app.cli import setup_logging
from app.core.paths import resolve_paths
from app.ui import crash_dialog
from app.ui.main_window import MainWindow


def _say(kind: str, *parts: object) -> None:
    print(kind, *parts, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The driver's command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.app_driver")
    parser.add_argument("--data-dir", required=True, help="the profile folder")
    parser.add_argument("--prompt", required=True, help="the message to send")
    parser.add_argument("--max-tokens", type=int, default=1500)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--seed", type=int, help="sampling seed (default: the setting's)")
    parser.add_argument("--temperature", type=float, help="(default: the setting's)")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="quit once the reply has ended")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Open the window, send the prompt, print the reply as it streams; run the event loop."""
    args = parse_args(argv)
    paths = resolve_paths(args.data_dir).ensure()
    setup_logging(paths)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    crash_dialog.install()
    profile = Profile.open(paths)
    profile.settings.set("max_tokens", args.max_tokens)
    profile.settings.set("n_ctx", args.n_ctx)
    for name in ("seed", "temperature"):
        if getattr(args, name) is not None:
            profile.settings.set(name, getattr(args, name))
    window = MainWindow(profile, fetch_starter=False)
    window.show()

    window.bridge.delta.connect(
        lambda _request, text: _say("DELTA", f"{time.monotonic():.6f}",
                                    json.dumps(text, ensure_ascii=False)))

    def ended(kind: str, payload: object) -> None:
        _say(kind, json.dumps(payload, ensure_ascii=False))
        if args.exit_when_done:
            window.close()
            app.quit()

    window.chat.reply_finished.connect(
        lambda stats: ended("DONE", dataclasses.asdict(stats)))
    window.chat.error_occurred.connect(lambda message: ended("ERROR", message))

    window.composer.setPlainText(args.prompt)
    window.send()
    if window.chat.conversation_id is None or not window.chat.busy:
        _say("ERROR", json.dumps(window.banner.label.text() or "not sent"))
        window.close()
        return 1
    _say("SENT", window.chat.conversation_id)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
