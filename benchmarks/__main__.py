"""Run one benchmark by name and print its table (or one JSON object with --json)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHMARKS = {"engine": "benchmarks.engine", "history": "benchmarks.history",
              "search": "benchmarks.search", "download": "benchmarks.download",
              "library": "benchmarks.library", "soak": "benchmarks.soak",
              "bundle": "benchmarks.bundle"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--model", help="GGUF file to use (default: the starter model)")
    parser.add_argument("--only", action="append", metavar="PART",
                        help="run only this part (repeatable), e.g. --only throughput")
    args = parser.parse_args(argv)
    module = importlib.import_module(BENCHMARKS[args.name])
    options = {"only": args.only} if args.only else {}
    result = module.run(model=args.model, progress=lambda text: print(text, file=sys.stderr),
                        **options)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(module.table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
