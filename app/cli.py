"""Command line: ``hearth`` / ``python main.py`` starts the window, or runs the self-test."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from logging.handlers import RotatingFileHandler

from app import APP_NAME, __version__
from app.core import bundle, network_audit
from app.core.errors import HearthError
from app.core.paths import Paths, resolve_paths

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="hearth", description=f"{APP_NAME}: offline chat "
                                     "with small language models on your own computer.")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="keep the whole profile (history, models, settings, logs) in DIR "
                        "(also HEARTH_DATA_DIR)")
    parser.add_argument("--model", metavar="PATH", help="use this GGUF model file")
    parser.add_argument("--self-test", action="store_true",
                        help="send one message headless, print JSON, exit 0 on success")
    parser.add_argument("--prompt", metavar="TEXT", help="the self-test's question")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    return parser.parse_args(argv)


def setup_logging(paths: Paths) -> None:
    """Log to a rotating file in the profile, and warnings to stderr."""
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    file_handler = RotatingFileHandler(paths.log_path, maxBytes=2_000_000, backupCount=3,
                                       encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(file_handler)
    root.addHandler(console)


def describe_build() -> str:
    """The log's first line of each start: what runs, from where."""
    kind = f"bundle at {bundle.root().parent}" if bundle.is_frozen() else "source checkout"
    info = bundle.build_info()
    baseline = f", llama.cpp for {info['cpu_baseline']}" if info.get("cpu_baseline") else ""
    return (f"{APP_NAME} {__version__} ({kind}{baseline}), Python {platform.python_version()}, "
            f"{platform.platform()}")


def self_test(paths: Paths, args: argparse.Namespace) -> int:
    """Run the self-test; print one JSON object, or one line on stderr."""
    from app.chat.self_test import run_self_test

    try:
        result = run_self_test(paths, model_path=args.model, prompt=args.prompt)
    except HearthError as exc:
        print(f"self-test failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback to the log
        log.exception("self-test crashed")
        print(f"self-test failed unexpectedly: {exc!r} (details in {paths.log_path})",
              file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hearth`` and ``python main.py``."""
    args = parse_args(argv)
    bundle.restore_program_environment()  # programs we start get the user's, not ours
    network_audit.install_from_environment()
    paths = resolve_paths(args.data_dir).ensure()
    setup_logging(paths)
    log.info("%s", describe_build())
    if args.self_test:
        return self_test(paths, args)
    from app.ui.application import run_gui

    return run_gui(paths, model_path=args.model)
