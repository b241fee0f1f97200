"""Start Hearth: ``python main.py [--data-dir DIR] [--self-test] ...``."""

import multiprocessing
import sys

if __name__ == "__main__":
    # First of all: in a bundle the engine is this same executable, started by
    # multiprocessing, and freeze_support() runs it (and exits) before the app imports.
    multiprocessing.freeze_support()
    from app.cli import main

    sys.exit(main())
