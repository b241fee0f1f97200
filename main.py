"""Start Hearth: ``python main.py [--data-dir DIR] [--self-test] ...``."""

import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the engine runs as a child process, also when frozen
    sys.exit(main())
