"""Which chat template a model gets, and rendering conversations with it without crashing.

The template is rendered the way llama-cpp-python's ``Jinja2ChatFormatter`` (and Hugging Face
transformers) render it — a sandboxed Jinja2 environment with ``trim_blocks``, ``lstrip_blocks``,
``loopcontrols``, a pass-through ``{% generation %}`` tag and the same variables — but without
importing llama_cpp, so the GUI process can validate a template the user pasted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.core.errors import HearthError
from app.engine.chat_formats import (
    FORMATS,
    TOKEN_HINTS,
    ChatFormat,
    base_model_warning,
    pick_format,
)

log = logging.getLogger(__name__)

Message = Mapping[str, Any]

# Special tokens whose presence in a model's vocabulary tells its chat format; a caller that
# cannot list the whole vocabulary may check just these and pass the ones found as ``tokens``.
MARKER_TOKENS: tuple[str, ...] = tuple(dict.fromkeys(token for token, _ in TOKEN_HINTS))

_HINT = "Choose a chat format for this model in its settings; ChatML suits most models."
_PROBE: tuple[dict[str, str], ...] = (
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello."},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "What is two plus two?"},
)


class TemplateError(HearthError):
    """A chat template cannot be used: it does not compile, or refuses the conversation."""


@dataclass(frozen=True)
class TemplateChoice:
    """The chat template chosen for a model, where it came from, and why (for the user).

    ``name`` is a format name from ``chat_formats.FORMATS``, "gguf" (the file's own template)
    or "custom" (a template the user pasted); ``source`` is "override", "gguf",
    "architecture" (picked from the file's metadata: architecture, name or tokens) or
    "default".
    """

    name: str
    template: str
    stops: list[str]
    source: str
    explanation: str
    base_model_warning: str | None = None


@dataclass(frozen=True)
class RenderedPrompt:
    """A conversation rendered to prompt text, its stop strings, and any repairs made to it."""

    prompt: str
    stops: list[str]
    adjustments: list[str]


class _Refused(Exception):
    """Internal: a template failed to compile or render; ``reason`` says why, in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason.rstrip(".")


class _Raised(Exception):
    """What the ``raise_exception`` a template calls raises."""


class _IgnoreGenerationTags(jinja2.ext.Extension):
    """Pass-through for Hugging Face's ``{% generation %}`` chat-template tag."""

    tags = {"generation"}  # noqa: RUF012  # jinja2.ext.Extension declares it a plain attribute

    def parse(self, parser: Any) -> Any:
        parser.stream.skip(1)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _raise_exception(message: str) -> None:
    raise _Raised(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


_ENVIRONMENT = ImmutableSandboxedEnvironment(
    loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True,
    extensions=[_IgnoreGenerationTags, jinja2.ext.loopcontrols])
_ENVIRONMENT.filters["tojson"] = _tojson


@lru_cache(maxsize=16)
def _compile(source: str) -> jinja2.Template:
    try:
        return _ENVIRONMENT.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise _Refused(f"syntax error on line {exc.lineno}: {exc.message}") from exc
    except Exception as exc:
        raise _Refused(f"it does not compile: {exc}") from exc


def _render_once(template: jinja2.Template, messages: list[dict[str, Any]], bos_token: str,
                 eos_token: str) -> str:
    try:
        prompt = template.render(
            messages=messages, bos_token=bos_token, eos_token=eos_token,
            add_generation_prompt=True, raise_exception=_raise_exception,
            functions=None, function_call=None, tools=None, tool_choice=None,
            strftime_now=_strftime_now)
    except _Raised as exc:
        raise _Refused(f"it says “{exc}”") from exc
    except jinja2.TemplateError as exc:
        raise _Refused(f"{exc.message or type(exc).__name__}") from exc
    except Exception as exc:
        raise _Refused(f"{type(exc).__name__}: {exc}") from exc
    if not prompt.strip():
        raise _Refused("it produces an empty prompt")
    return prompt


def _merge_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """System messages move to the start of the next user message ('system\\n\\nuser')."""
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    for message in messages:
        if message["role"] == "system":
            pending.append(message["content"])
            continue
        if pending and message["role"] == "user":
            message = {**message, "content": "\n\n".join([*pending, message["content"]])}
            pending = []
        out.append(message)
    if pending:
        out.append({"role": "user", "content": "\n\n".join(pending)})
    return out


def _drop_leading_assistant(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), len(messages))
    return [m for i, m in enumerate(messages) if i >= first_user or m["role"] != "assistant"]


def _merge_consecutive(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if out and out[-1]["role"] == message["role"]:
            out[-1] = {**out[-1], "content": out[-1]["content"] + "\n\n" + message["content"]}
        else:
            out.append(message)
    return out


Repair = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
# Applied in this order; tried as combinations from least to most invasive (bit order below).
_REPAIRS: tuple[tuple[int, Repair, str], ...] = (
    (1, _merge_system, "Merged the system prompt into the first user message."),
    (4, _drop_leading_assistant, "Left out assistant messages before the first user message."),
    (2, _merge_consecutive, "Joined consecutive messages from the same role into one."),
)


def _render_repaired(template: jinja2.Template, messages: Sequence[Message], bos_token: str,
                     eos_token: str) -> tuple[str, list[str]]:
    """The prompt, after the fewest repairs the template accepts; ``_Refused`` if none does."""
    original = [dict(m) for m in messages]
    first_problem: _Refused | None = None
    tried: set[str] = set()
    for mask in range(8):
        attempt, adjustments = original, []
        for bit, repair, description in _REPAIRS:
            if mask & bit:
                repaired = repair(attempt)
                if repaired != attempt:
                    adjustments.append(description)
                attempt = repaired
        key = repr(attempt)
        if key in tried:
            continue
        tried.add(key)
        try:
            prompt = _render_once(template, attempt, bos_token, eos_token)
        except _Refused as exc:
            first_problem = first_problem or exc
            continue
        if adjustments:
            log.info("chat template refused the conversation (%s); rendered after: %s",
                     first_problem.reason if first_problem else "?", " ".join(adjustments))
        return prompt, adjustments
    assert first_problem is not None
    raise first_problem


def render_messages(choice: TemplateChoice, messages: Sequence[Message], bos_token: str,
                    eos_token: str) -> RenderedPrompt:
    """Render ``messages`` with the chosen template, repairing what the template refuses.

    The repairs (each recorded in ``adjustments``) are: merging the system prompt into the
    first user message, joining consecutive messages of one role, and leaving out assistant
    messages before the first user message. Raises ``TemplateError`` when nothing works.
    The prompt already holds the special tokens the template writes (``bos_token`` included):
    tokenize it without adding a BOS token.
    """
    try:
        prompt, adjustments = _render_repaired(_compile(choice.template), messages, bos_token,
                                               eos_token)
    except _Refused as exc:
        raise TemplateError(
            f"The chat template ({_describe(choice)}) cannot render this conversation: "
            f"{exc.reason}.", _HINT) from exc
    stops = list(dict.fromkeys([*choice.stops, eos_token]))
    return RenderedPrompt(prompt, [s for s in stops if s], adjustments)


def _describe(choice: TemplateChoice) -> str:
    if choice.name in FORMATS:
        return FORMATS[choice.name].label
    return {"gguf": "from the model file", "custom": "you entered"}.get(choice.name, choice.name)


def _template_problem(source: str) -> str | None:
    """Why ``source`` cannot serve as a chat template, or None when it can."""
    try:
        prompt, _ = _render_repaired(_compile(source), _PROBE, "<s>", "</s>")
    except _Refused as exc:
        return exc.reason
    if _PROBE[-1]["content"] not in prompt:
        return "it leaves the messages out of the prompt"
    return None


def _stops_for(source: str) -> list[str]:
    """Stop strings of the known formats whose special tokens a foreign template writes."""
    stops = [s for token, name in TOKEN_HINTS if token in source for s in FORMATS[name].stops]
    return list(dict.fromkeys(stops))


def choose_template(metadata: Mapping[str, str], override_format: str | None = None,
                    override_template: str | None = None,
                    tokens: Iterable[str] | None = None) -> TemplateChoice:
    """The chat template to use for a model, from the user's override or the GGUF metadata.

    ``metadata`` is the GGUF key/value metadata as strings (``llama_cpp.Llama.metadata``).
    Order: a pasted ``override_template`` (wins over ``override_format``), a format name
    ``override_format``, the file's ``tokenizer.chat_template`` when it works, a format picked
    from the metadata, then ChatML. Empty overrides count as none. ``tokens`` is optional: the
    vocabulary (GGUF ``tokenizer.ggml.tokens``), or just those of ``MARKER_TOKENS`` the model
    has; its special tokens identify formats (e.g. Llama 3's ``<|eot_id|>``) that the metadata
    dict of llama-cpp-python, which lacks the token list, cannot. Raises ``TemplateError`` for
    an unknown format name or a pasted template that does not work.
    """
    warning = base_model_warning(metadata)
    if override_template and override_template.strip():
        problem = _template_problem(override_template)
        if problem:
            raise TemplateError(f"The chat template you entered cannot be used: {problem}.",
                                "Correct it, or choose one of Hearth's chat formats instead.")
        return TemplateChoice("custom", override_template, _stops_for(override_template),
                              "override", "Using the chat template you entered for this model.",
                              warning)
    if override_format and override_format.strip():
        chosen = FORMATS.get(override_format.strip().lower())
        if chosen is None:
            raise TemplateError(f"There is no chat format called “{override_format}”.",
                                "Choose one of: " + ", ".join(FORMATS) + ".")
        return _from_format(chosen, "override",
                            f"Using the {chosen.label} format you chose for this model.", warning)
    own = metadata.get("tokenizer.chat_template", "")
    prefix = "This model file has no chat template; "
    if own.strip():
        problem = _template_problem(own)
        if problem is None:
            return TemplateChoice("gguf", own, _stops_for(own), "gguf",
                                  "Using the chat template stored in this model file.", warning)
        log.info("the model file's chat template cannot be used: %s", problem)
        prefix = f"This model file's chat template cannot be used ({problem}); "
    chosen, reason, source = pick_format(metadata, tokens)
    return _from_format(chosen, source, f"{prefix}using the {chosen.label} format{reason}.",
                        warning)


def _from_format(chosen: ChatFormat, source: str, explanation: str,
                 warning: str | None) -> TemplateChoice:
    return TemplateChoice(chosen.name, chosen.template, list(chosen.stops), source,
                          explanation, warning)
