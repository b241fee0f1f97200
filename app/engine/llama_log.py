"""llama.cpp's own log, kept in the engine process to explain why a model did not load.

llama.cpp reports the reason for a failed load only in its log ("unknown model
architecture: 'foobar'"); ``Llama()`` itself raises a bare "Failed to load model from
file". ``install()`` puts a ctypes callback in front of llama-cpp-python's: the callback
receives every message directly, so ``Llama(verbose=False)`` (which only sends file
descriptors 1 and 2 to /dev/null while loading) does not hide anything from it, and each
message is passed on to llama-cpp-python's own callback so its printing stays as it was.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections import deque
from collections.abc import Callable

import llama_cpp

# enum ggml_log_level in the bundled ggml.h. llama-cpp-python's _logger.py still uses an
# older numbering (it takes 4, ERROR, for DEBUG), so its level filter is not to be trusted.
LEVEL_DEBUG, LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR, LEVEL_CONT = 1, 2, 3, 4, 5
DEFAULT_CAPACITY = 200


class LlamaLog:
    """The last lines llama.cpp logged (debug lines left out), safe to read from any thread.

    A load logs about 2,000 debug lines (one per tensor) and 200 other lines; keeping only
    the others leaves the lines that explain a failure in the buffer.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._lines: deque[str] = deque(maxlen=capacity)
        self._count = 0  # lines stored so far, including those pushed out of the buffer
        self._pending = ""  # a message still waiting for its newline
        self._keep = True  # whether the message being continued is one we keep
        self._lock = threading.Lock()
        # Referenced here for as long as llama.cpp may call it: a collected ctypes
        # callback is a dangling pointer in C.
        self.callback = llama_cpp.llama_log_callback(self._receive)

    @property
    def capacity(self) -> int:
        """How many lines the buffer holds."""
        return self._lines.maxlen or 0

    def _receive(self, level: int, text: bytes | None, _user_data: ctypes.c_void_p) -> None:
        self.feed(level, text)

    def feed(self, level: int, text: bytes | None) -> None:
        """Add one message as llama.cpp passes it to the callback.

        A message may lack its newline or be continued by LEVEL_CONT pieces (the progress
        dots); a new message of any other level starts a new line.
        """
        piece = (text or b"").decode("utf-8", errors="replace")
        with self._lock:
            if level != LEVEL_CONT:
                self._flush()
                self._keep = level != LEVEL_DEBUG
            if not self._keep:
                return
            *complete, self._pending = (self._pending + piece).split("\n")
            for line in complete:
                self._push(line)

    def _push(self, line: str) -> None:
        if line.strip():
            self._lines.append(line.rstrip())
            self._count += 1

    def _flush(self) -> None:
        self._push(self._pending)
        self._pending = ""

    def mark(self) -> int:
        """A position in the log; ``lines_since`` returns what was logged after it."""
        with self._lock:
            self._flush()
            return self._count

    def lines_since(self, mark: int) -> list[str]:
        """The lines logged after ``mark`` that the buffer still holds, oldest first."""
        with self._lock:
            first = self._count - len(self._lines)
            lines = list(self._lines)[max(0, mark - first):]
            if self._pending.strip():
                lines.append(self._pending.rstrip())
            return lines

    def lines(self) -> list[str]:
        """Every line the buffer holds, oldest first."""
        return self.lines_since(0)


_installed: LlamaLog | None = None
_install_lock = threading.Lock()


def install(capacity: int = DEFAULT_CAPACITY) -> LlamaLog:
    """Capture llama.cpp's log from now on; calling it again returns the same LlamaLog.

    The lines are kept, not printed: llama-cpp-python's own printer misreads llama.cpp's
    log levels and would put routine warnings on the engine's stderr.
    """
    global _installed
    with _install_lock:
        if _installed is None:
            log = LlamaLog(capacity)
            llama_cpp.llama_log_set(log.callback, ctypes.c_void_p())
            _installed = log
        return _installed


def _size(text: str) -> str:
    size = int(text)
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def _out_of_memory(match: re.Match[str], lines: list[str]) -> str:
    sizes = [m.group(1) for line in lines if (m := re.search(r"of size (\d+)", line))]
    asked = f" (llama.cpp asked for {_size(sizes[-1])} at once)" if sizes else ""
    return (f"There is not enough free memory to load this model with this context "
            f"length{asked}. Choose a shorter context length or a smaller model.")


# (pattern, explanation) in order of precedence: a failure logs several lines, and the
# specific cause must win over the generic "failed to load model" that follows it.
_Explain = Callable[[re.Match[str], list[str]], str]
_RULES: list[tuple[str, _Explain]] = [
    (r"bad_alloc error while reading", lambda m, _: "The model file's metadata is damaged."),
    (r"failed to allocate|unable to allocate|cannot allocate|out of memory|"
     r"insufficient memory|bad_alloc|not enough space in the buffer", _out_of_memory),
    (r"unknown model architecture: '([^']*)'", lambda m, _: (
        f"This model's architecture '{m.group(1)}' is not supported by this version of "
        "llama.cpp.")),
    (r"GGUF file is version (\d+) but this software only supports up to version (\d+)",
     lambda m, _: (f"This model file uses GGUF version {m.group(1)}; this version of "
                   f"llama.cpp reads up to version {m.group(2)}.")),
    (r"GGUFv1 is no longer supported", lambda m, _: (
        "This model file uses GGUF version 1, which llama.cpp no longer reads.")),
    (r"mismatch between the host and model endianness", lambda m, _: (
        "This model file was converted for big-endian computers.")),
    (r"invalid magic characters|failed to read magic", lambda m, _: (
        "This is not a GGUF model file.")),
    (r"tensor '([^']*)' data is not within the file bounds", lambda m, _: (
        f"The model file is incomplete or corrupted: the data of tensor '{m.group(1)}' "
        "lies beyond the end of the file.")),
    (r"not within the file bounds|failed to read tensor data|unexpected end of file",
     lambda m, _: "The model file is incomplete or corrupted: its tensor data is cut short."),
    (r"tensor '([^']*)' (?:not found|is missing)|missing tensor '([^']*)'", lambda m, _: (
        f"The model file lacks the tensor '{m.group(1) or m.group(2)}' that its architecture "
        "needs: it is incomplete or was converted wrongly.")),
    (r"tensor '([^']*)' has wrong shape", lambda m, _: (
        f"The tensor '{m.group(1)}' has the wrong shape for this architecture: the file was "
        "converted wrongly or is for a variant this llama.cpp does not know.")),
    (r"(\d+) tensors expected but (\d+) found", lambda m, _: (
        f"The model file is corrupted: it should hold {m.group(1)} tensors but holds "
        f"{m.group(2)}.")),
    (r"error loading model vocabulary: (.+)", lambda m, _: (
        f"llama.cpp could not read the model's tokenizer ({m.group(1).strip()}).")),
    (r"key not found in model: (\S+)", lambda m, _: (
        f"The model file lacks the setting '{m.group(1)}' that llama.cpp needs for its "
        "architecture.")),
    (r"failed to read (?:header|key-value pairs|tensor info)|invalid ggml type|"
     r"exceeds (?:maximum|remaining file size)|duplicate (?:key|tensor)", lambda m, _: (
        "The model file's metadata is damaged.")),
    (r"error loading model: (.+)", lambda m, _: (
        f"llama.cpp could not load the model: {m.group(1).strip()}.")),
    (r"failed to initialize the context: (.+)", lambda m, _: (
        f"llama.cpp could not set up the model's context: {m.group(1).strip()}.")),
]
_REASONS = [(re.compile(pattern, re.IGNORECASE), explain) for pattern, explain in _RULES]


def explain_load_failure(lines: list[str]) -> str | None:
    """A sentence for the user saying why llama.cpp failed to load a model, from its log.

    ``lines`` are those logged during the attempt (``LlamaLog.lines_since``); None when
    they name no reason this function knows.
    """
    for pattern, explain in _REASONS:
        for line in lines:
            match = pattern.search(line)
            if match:
                return explain(match, lines)
    return None
