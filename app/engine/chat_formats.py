"""The chat formats Hearth knows, and which one suits a model whose file has no template.

Formats are Hugging Face-style Jinja2 chat templates.
Each template is rendered with ``messages``, ``add_generation_prompt``, ``bos_token`` and
``eos_token`` (see ``chat_templates.render_messages``), the same variables a GGUF's own
``tokenizer.chat_template`` gets. Templates are written as string concatenations inside
``{{ … }}`` so that the environment's ``trim_blocks``/``lstrip_blocks`` never change them.

The prompt is tokenized without adding a BOS token (the template owns it, as in
llama-cpp-python), so every format whose models expect one starts with ``{{ bos_token }}``.
Formats without a system role fold the system prompt into the first user message after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ChatFormat:
    """One known chat format: what a user picks by name, and what Hearth falls back to."""

    name: str
    label: str
    template: str
    stops: tuple[str, ...]
    supports_system: bool


def _system_into_first_user(user_turn: str, other_turn: str, head: str = "") -> str:
    """A template that carries the system prompt ('sys\\n\\n') into the next user turn.

    ``user_turn``/``other_turn`` are Jinja expressions of ``text`` (the message, trimmed) and,
    for user turns, ``system`` (the pending system text followed by a blank line, or '').
    """
    return (
        head + "{% set ns = namespace(system='') %}"
        "{% for message in messages %}"
        "{% set text = message['content'] | trim %}"
        "{% if message['role'] == 'system' %}{% set ns.system = ns.system + text + '\n\n' %}"
        "{% elif message['role'] == 'assistant' %}{{ " + other_turn + " }}"
        "{% else %}{% set system = ns.system %}"
        "{{ " + user_turn + " }}{% set ns.system = '' %}"
        "{% endif %}{% endfor %}"
    )


def _system_or(default: str) -> str:
    """Template text: a leading system message, else ``default``; sets ``start`` past it."""
    return ("{% if messages and messages[0]['role'] == 'system' %}"
            "{{ messages[0]['content'] }}{% set start = 1 %}"
            "{% else %}{{ '" + default + "' }}{% set start = 0 %}{% endif %}")


CHATML = ChatFormat(
    "chatml", "ChatML",
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    ("<|im_end|>", "<|im_start|>"), True)

LLAMA_3 = ChatFormat(
    "llama-3", "Llama 3",
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + (message['content'] | trim) + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}",
    ("<|eot_id|>", "<|start_header_id|>", "<|end_of_text|>"), True)

LLAMA_2 = ChatFormat(
    "llama-2", "Llama 2",
    _system_into_first_user(
        "bos_token + '[INST] ' + ('<<SYS>>\n' + system[:-2] + '\n<</SYS>>\n\n'"
        " if system else '') + text + ' [/INST]'",
        "' ' + text + ' ' + eos_token"),
    ("[INST]",), True)

MISTRAL = ChatFormat(
    "mistral", "Mistral [INST]",
    _system_into_first_user("'[INST] ' + system + text + ' [/INST]'",
                            "' ' + text + eos_token", head="{{ bos_token }}"),
    ("[INST]",), False)

GEMMA = ChatFormat(
    "gemma", "Gemma",
    _system_into_first_user("'<start_of_turn>user\n' + system + text + '<end_of_turn>\n'",
                            "'<start_of_turn>model\n' + text + '<end_of_turn>\n'",
                            head="{{ bos_token }}")
    + "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}",
    ("<end_of_turn>", "<start_of_turn>"), False)

PHI_3 = ChatFormat(
    "phi-3", "Phi-3",
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}",
    ("<|end|>", "<|user|>", "<|endoftext|>"), True)

ZEPHYR = ChatFormat(
    "zephyr", "Zephyr",
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}",
    ("<|user|>", "</s>"), True)

VICUNA = ChatFormat(
    "vicuna", "Vicuna",
    "{{ bos_token }}"
    + _system_or("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user\\'s "
                 "questions.")
    + "{% for message in messages[start:] %}"
    "{% if message['role'] == 'assistant' %}{{ ' ASSISTANT: ' + message['content'] + eos_token }}"
    "{% else %}{{ (' ' if loop.first else '') + 'USER: ' + message['content'] }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ ' ASSISTANT:' }}{% endif %}",
    ("USER:",), True)

ALPACA = ChatFormat(
    "alpaca", "Alpaca",
    "{{ bos_token }}"
    + _system_or("Below is an instruction that describes a task. Write a response that "
                 "appropriately completes the request.")
    + "{% for message in messages[start:] %}"
    "{% if message['role'] == 'assistant' %}{{ '\n\n### Response:\n' + message['content'] }}"
    "{% else %}{{ '\n\n### Instruction:\n' + message['content'] }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '\n\n### Response:\n' }}{% endif %}",
    ("### Instruction:",), True)

COMMAND_R = ChatFormat(
    "command-r", "Command R",
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set tag = '<|SYSTEM_TOKEN|>' %}"
    "{% elif message['role'] == 'assistant' %}{% set tag = '<|CHATBOT_TOKEN|>' %}"
    "{% else %}{% set tag = '<|USER_TOKEN|>' %}{% endif %}"
    "{{ '<|START_OF_TURN_TOKEN|>' + tag + (message['content'] | trim)"
    " + '<|END_OF_TURN_TOKEN|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}",
    ("<|END_OF_TURN_TOKEN|>",), True)

DEEPSEEK = ChatFormat(
    "deepseek", "DeepSeek",
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}"
    "{% else %}{{ 'User: ' + message['content'] + '\n\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
    ("User:",), True)

FORMATS: dict[str, ChatFormat] = {f.name: f for f in (
    CHATML, LLAMA_3, LLAMA_2, MISTRAL, GEMMA, PHI_3, ZEPHYR, VICUNA, ALPACA, COMMAND_R,
    DEEPSEEK)}

# --- Which format suits a model whose file has no (usable) chat template. ---

# Fine-tunes whose format differs from their base model's; matched against the
# lower-cased name with spaces/underscores turned into '-', before anything else.
FINETUNE_NAME_HINTS: tuple[tuple[str, str], ...] = (
    (r"zephyr|tinyllama", "zephyr"),
    (r"vicuna", "vicuna"),
    (r"alpaca", "alpaca"),
    (r"hermes|dolphin|chatml|openorca|smollm", "chatml"),
)

# Special tokens that only one format uses (checked in this order).
TOKEN_HINTS: tuple[tuple[str, str], ...] = (
    ("<|im_start|>", "chatml"),
    ("<|start_header_id|>", "llama-3"),
    ("<|eot_id|>", "llama-3"),
    ("<start_of_turn>", "gemma"),
    ("<|START_OF_TURN_TOKEN|>", "command-r"),
    ("<|assistant|>", "phi-3"),
    ("[INST]", "mistral"),
)

# Base families, used when the architecture is "llama" (shared by many families) or unknown.
FAMILY_NAME_HINTS: tuple[tuple[str, str], ...] = (
    (r"llama-?3(?![0-9])", "llama-3"),
    (r"mistral|mixtral|ministral", "mistral"),
    (r"gemma", "gemma"),
    (r"phi-?3", "phi-3"),
    (r"command-?r|c4ai", "command-r"),
    (r"deepseek", "deepseek"),
    (r"qwen", "chatml"),
    (r"llama-?2(?![0-9])", "llama-2"),
)

# `tokenizer.ggml.pre` values that identify a llama-architecture family.
LLAMA_PRE_TOKENIZERS: dict[str, str] = {"llama-bpe": "llama-3", "smaug-bpe": "llama-3",
                                        "tekken": "mistral"}
LLAMA_3_VOCAB_SIZE = 128256

# Architectures whose chat models use ChatML (and add its tokens) → chatml; base or code
# architectures whose vocabularies have no chat tokens → alpaca's plain-text markers.
ARCHITECTURE_FORMATS: dict[str, str] = {
    **dict.fromkeys(("qwen", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "qwen2vl", "stablelm",
                     "mpt", "internlm2", "minicpm"), "chatml"),
    **dict.fromkeys(("gemma", "gemma2", "gemma3", "gemma3n"), "gemma"),
    **dict.fromkeys(("phi3", "phimoe"), "phi-3"),
    **dict.fromkeys(("mistral", "mistral3"), "mistral"),
    **dict.fromkeys(("command-r", "cohere2"), "command-r"),
    **dict.fromkeys(("deepseek", "deepseek2"), "deepseek"),
    **dict.fromkeys(("gpt2", "gptneox", "starcoder", "starcoder2", "refact", "falcon", "bloom",
                     "phi2"), "alpaca"),
}

# Name parts that mark a model tuned to follow instructions or chat (whole words only).
_TUNED_WORDS = frozenset((
    "it", "inst", "sft", "dpo", "rlhf", "orpo", "kto", "ppo", "hermes", "openhermes", "dolphin",
    "assistant", "zephyr", "vicuna", "alpaca", "openchat", "tulu", "wizardlm", "orca",
    "openorca", "starling", "command", "rp", "roleplay", "uncensored", "abliterated", "r1"))
BASE_MODEL_WARNING = ("This looks like a base model (not tuned for chat); replies may ramble "
                      "or continue your text instead of answering.")


def _name_of(metadata: Mapping[str, str]) -> str:
    """The model's name parts, lower-cased, with spaces and underscores turned into '-'."""
    parts = (metadata.get(key, "") for key in
             ("general.name", "general.basename", "general.finetune"))
    return re.sub(r"[\s_]+", "-", " ".join(p for p in parts if p).lower()).strip("-")


def _first_match(hints: tuple[tuple[str, str], ...], name: str) -> ChatFormat | None:
    return next((FORMATS[fmt] for pattern, fmt in hints if re.search(pattern, name)), None)


def pick_format(metadata: Mapping[str, str],
                tokens: Iterable[str] | None = None) -> tuple[ChatFormat, str, str]:
    """The format for a model without a usable template: (format, reason, source).

    Fine-tune names (zephyr, hermes, …) come first, then special ``tokens``, then the
    architecture (for "llama" also base-family names and the tokenizer), then ChatML.
    ``reason`` continues "using the X format" for the user; ``source`` is "architecture"
    when the metadata decided, "default" otherwise.
    """
    name = _name_of(metadata)
    shown = metadata.get("general.name") or metadata.get("general.basename") or name
    by_name = f" chosen from its name (“{shown}”)"
    arch = metadata.get("general.architecture", "").strip().lower()
    found = _first_match(FINETUNE_NAME_HINTS, name)
    if found:
        return found, by_name, "architecture"
    vocab = set(tokens or ())
    for token, fmt in TOKEN_HINTS:
        if token in vocab:
            return FORMATS[fmt], " chosen from its special tokens", "architecture"
    if arch in ARCHITECTURE_FORMATS:
        return (FORMATS[ARCHITECTURE_FORMATS[arch]], f" chosen from its architecture ({arch})",
                "architecture")
    found = _first_match(FAMILY_NAME_HINTS, name)
    if found:
        return found, by_name, "architecture"
    if arch == "llama":
        pre = LLAMA_PRE_TOKENIZERS.get(metadata.get("tokenizer.ggml.pre", ""))
        if pre is None and metadata.get("llama.vocab_size") == str(LLAMA_3_VOCAB_SIZE):
            pre = "llama-3"
        if pre:
            return FORMATS[pre], " chosen from its architecture (llama) and tokenizer", \
                "architecture"
        return FORMATS["llama-2"], " chosen from its architecture (llama)", "architecture"
    unknown = f"Hearth does not know its architecture, “{arch}”" if arch \
        else "the file does not name its architecture"
    return CHATML, f", which most chat models understand ({unknown})", "default"


def base_model_warning(metadata: Mapping[str, str]) -> str | None:
    """A warning for the user when the model looks like a base (not chat-tuned) model.

    It does when its name or ``general.type`` says "base", or when the file has no chat
    template and its name has no instruct/chat marker. With no name at all it cannot tell.
    """
    name = _name_of(metadata)
    words = set(re.split(r"[^a-z0-9]+", name))
    if words & _TUNED_WORDS or "instruct" in name or "chat" in name:
        return None
    if "base" in words or metadata.get("general.type", "").strip().lower() == "base":
        return BASE_MODEL_WARNING
    if name and not metadata.get("tokenizer.chat_template", "").strip():
        return BASE_MODEL_WARNING
    return None
