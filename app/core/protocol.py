"""The versioned message protocol between the GUI process and the engine process.

Every message crosses the pipe as a plain dict ``{"v": PROTOCOL_VERSION, "type": ..., ...}``
so that neither side depends on the other's classes being picklable or identical.

Commands (GUI -> engine): ``load``, ``chat``, ``cancel``, ``unload``, ``shutdown``.
Events (engine -> GUI): ``loaded``, ``started``, ``delta``, ``done``, ``error``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

PROTOCOL_VERSION = 2


class ProtocolError(Exception):
    """A message that does not follow this protocol (wrong version, type or fields)."""


class StopReason:
    """Why a reply ended: stored with the message."""

    END = "end"              # the model finished (end-of-generation token or a stop string)
    LENGTH = "length"        # max_tokens reached
    STOPPED = "stopped"      # the user pressed Stop
    ERROR = "error"          # the engine failed or died
    CONTEXT_FULL = "context_full"


class ErrorCode:
    """Machine-readable kinds of ``error`` events."""

    MODEL_FILE = "model_file"        # missing, damaged, or refused by llama.cpp (with why)
    BAD_SETTINGS = "bad_settings"    # a parameter llama.cpp would reject
    TEMPLATE = "template"            # the chat template cannot render the conversation
    CONTEXT_FULL = "context_full"
    ENGINE_CRASHED = "engine_crashed"
    PROTOCOL = "protocol"
    INTERNAL = "internal"


KV_CACHE_TYPES = ("f16", "f32", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
CONTEXT_POLICIES = ("truncate_middle", "rolling", "stop")


@dataclass(frozen=True)
class ModelSpec:
    """What to load: a GGUF file and the parameters that need a reload when changed."""

    path: str
    n_ctx: int = 0              # 0: the smaller of the trained length and what memory allows
    n_threads: int = 0          # 0: automatic, from the free cores (engine/thread_tuner.py)
    n_threads_batch: int = 0    # 0: automatic, from the free logical cores (prompts)
    n_gpu_layers: int = 0       # -1: all layers
    flash_attn: bool = False
    type_k: str = "f16"         # KV cache element types (KV_CACHE_TYPES)
    type_v: str = "f16"
    use_mmap: bool = True
    use_mlock: bool = False
    chat_format: str = ""       # "": the file's own template, else a known format's name
    chat_template: str = ""     # a pasted Jinja2 template (wins over chat_format)


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens for one reply."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    max_tokens: int = 1024
    seed: int | None = None     # None: random; a number gives the same reply every time
    stop: tuple[str, ...] = ()  # extra stop strings
    ignore_eos: bool = False    # keep going past end-of-generation (benchmarks)


@dataclass(frozen=True)
class ReplyStats:
    """Measurements of one reply, sent with ``done`` and stored with the message."""

    prompt_tokens: int = 0
    cached_tokens: int = 0            # prompt tokens reused from the KV cache (not evaluated)
    completion_tokens: int = 0
    ttft_s: float | None = None       # model ready -> first token out
    tokens_per_second: float | None = None
    total_s: float = 0.0
    stop_reason: str = StopReason.END
    n_ctx: int = 0                    # the context window
    context_used: int = 0             # prompt + completion tokens in it
    dropped_messages: int = 0         # older messages left out to fit the window
    n_threads: int = 0                # generation threads that made most of the tokens


@dataclass(frozen=True)
class Message:
    """Base of every protocol message."""

    TYPE: ClassVar[str] = ""


@dataclass(frozen=True)
class Load(Message):
    """Load ``model`` (no-op when it is already loaded with the same parameters)."""

    TYPE: ClassVar[str] = "load"
    request_id: str
    model: ModelSpec


@dataclass(frozen=True)
class Chat(Message):
    """Generate a reply to ``messages`` (role/content dicts), loading ``model`` first if needed."""

    TYPE: ClassVar[str] = "chat"
    request_id: str
    model: ModelSpec
    messages: list[dict[str, str]]
    sampling: Sampling = field(default_factory=Sampling)
    context_policy: str = "truncate_middle"   # CONTEXT_POLICIES
    cache_key: str = ""       # names the conversation whose KV state may be kept on disk


@dataclass(frozen=True)
class Cancel(Message):
    """Stop request ``request_id`` at the next token."""

    TYPE: ClassVar[str] = "cancel"
    request_id: str


@dataclass(frozen=True)
class Unload(Message):
    """Free the loaded model."""

    TYPE: ClassVar[str] = "unload"


@dataclass(frozen=True)
class Forget(Message):
    """These conversations were deleted: drop their state in memory and on disk, unsaved."""

    TYPE: ClassVar[str] = "forget"
    cache_keys: tuple[str, ...]


@dataclass(frozen=True)
class Shutdown(Message):
    """Finish the current token, free everything and exit."""

    TYPE: ClassVar[str] = "shutdown"


@dataclass(frozen=True)
class Loaded(Message):
    """A model is loaded and ready."""

    TYPE: ClassVar[str] = "loaded"
    request_id: str
    model_path: str
    n_ctx: int
    n_threads: int               # 0: chosen per reply from the free cores
    load_s: float
    chat_template: bool          # the file carries its own template
    n_ctx_train: int = 0
    chat_format: str = ""        # the format used ("gguf", "chatml", "custom", ...)
    template_note: str = ""      # why that format, for the user
    warnings: tuple[str, ...] = ()
    gpu_offload: bool = False    # this llama.cpp build can offload to a GPU
    system_info: str = ""        # llama.cpp's build: CPU features and backends in use


@dataclass(frozen=True)
class Started(Message):
    """The prompt is fitted and being read; ``prompt_tokens - cached_tokens`` are new."""

    TYPE: ClassVar[str] = "started"
    request_id: str
    prompt_tokens: int
    cached_tokens: int
    n_ctx: int
    dropped_messages: int = 0


@dataclass(frozen=True)
class Delta(Message):
    """The next piece of reply text (whole UTF-8 characters, in order)."""

    TYPE: ClassVar[str] = "delta"
    request_id: str
    text: str


@dataclass(frozen=True)
class Done(Message):
    """A reply ended; ``stats.stop_reason`` says why."""

    TYPE: ClassVar[str] = "done"
    request_id: str
    stats: ReplyStats


@dataclass(frozen=True)
class Error(Message):
    """A request failed; ``message`` is written for the user, ``details`` (a bug's
    traceback) for the log."""

    TYPE: ClassVar[str] = "error"
    request_id: str
    code: str
    message: str
    details: str = ""


_TYPES: dict[str, type[Message]] = {cls.TYPE: cls for cls in (
    Load, Chat, Cancel, Unload, Forget, Shutdown, Loaded, Started, Delta, Done, Error)}
_NESTED: dict[str, type] = {"model": ModelSpec, "sampling": Sampling, "stats": ReplyStats}
_TUPLES = {"warnings", "cache_keys"}


def encode(message: Message) -> dict[str, Any]:
    """Turn a message into the plain dict sent over the pipe."""
    wire: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": message.TYPE}
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        wire[f.name] = value
    return wire


def decode(wire: Any) -> Message:
    """Turn a received dict back into a message; raise ProtocolError if it is not one."""
    if not isinstance(wire, dict):
        raise ProtocolError(f"expected a dict, got {type(wire).__name__}")
    version = wire.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version!r}, expected {PROTOCOL_VERSION}")
    kind = wire.get("type")
    cls = _TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in wire:
            continue
        value = wire[f.name]
        nested = _NESTED.get(f.name)
        if nested is not None and isinstance(value, dict):
            try:
                value = nested(**value)
            except TypeError as exc:
                raise ProtocolError(f"bad {f.name} in {cls.TYPE}: {exc}") from None
        if isinstance(value, list) and f.name in _TUPLES:
            value = tuple(value)
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ProtocolError(f"bad {cls.TYPE} message: {exc}") from None
