"""Check that the build venv's llama.cpp is the portable build, not a native one.

Run by scripts/package with the build venv's Python: a native build slipped in (from pip's
wheel cache, say) would make a bundle that dies with SIGILL on older CPUs.
"""

from __future__ import annotations

import re
import sys

import llama_cpp

info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
features = {name: value == "1" for name, value in re.findall(r"(\w+) = (\d)", info)}
problems = [f"{name} is on" for name in ("AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX_VNNI")
            if features.get(name)]
problems += [f"{name} is off" for name in ("AVX2", "FMA", "F16C") if not features.get(name)]
if problems:
    sys.exit(f"The build venv's llama.cpp is not the portable build ({', '.join(problems)}): "
             f"{info}")
print(f"Portable llama.cpp: {info.strip()}")
