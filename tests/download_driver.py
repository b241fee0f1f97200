"""Runs the real app on a profile and downloads a hub file through it, reporting on stdout.

For tests that kill the whole app mid-download::

    python -m tests.download_driver --data-dir DIR [--repo ORG/NAME --file NAME]

``HF_ENDPOINT`` (inherited) points at the test hub. With ``--repo``/``--file`` the file is
queued as the Discover tab queues it; without, the window only resumes what the queue
holds, as it does at every start. One flushed line per event:

- ``RECEIVED <bytes>`` as the download progresses;
- ``READY <path>`` when a verified file entered the library (then the app quits);
- ``FAILED <JSON message>`` when the download failed (then the app quits).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported; no display needed

from PySide6.QtWidgets import QApplication

from app.chat.profile import Profile
from app.cli import setup_logging
from app.core.download_job import jobs_for
from app.core.paths import resolve_paths
from app.ui.main_window import MainWindow


def _say(kind: str, *parts: object) -> None:
    print(kind, *parts, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Open the window, queue the file (if asked), report until it is ready or failed."""
    parser = argparse.ArgumentParser(prog="python -m tests.download_driver")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--repo")
    parser.add_argument("--file")
    args = parser.parse_args(argv)
    paths = resolve_paths(args.data_dir).ensure()
    setup_logging(paths)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    profile = Profile.open(paths)
    window = MainWindow(profile, fetch_starter=False)
    runner = window.downloads

    def changed(job_id: str) -> None:
        job = runner.queue.get(job_id)
        if job is None:
            return
        if job.state == "failed":
            _say("FAILED", json.dumps(job.error))
            app.quit()
        elif job.state == "downloading":
            _say("RECEIVED", job.received)

    def ready(path: str) -> None:
        _say("READY", path)
        window.close()
        app.quit()

    runner.job_changed.connect(changed)
    runner.file_ready.connect(ready)
    if args.repo:
        listing = profile.hub_client().listing(args.repo)
        [hub_file] = [f for f in listing.files if f.path == args.file]
        runner.add(jobs_for(hub_file))
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
