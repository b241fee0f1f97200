"""Choosing a model's chat template and rendering conversations with it (no engine process)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from app.core.errors import HearthError
from app.engine.chat_formats import BASE_MODEL_WARNING, FORMATS
from app.engine.chat_templates import (
    MARKER_TOKENS,
    TemplateChoice,
    TemplateError,
    choose_template,
    render_messages,
)

CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name a colour."},
    {"role": "assistant", "content": "Blue."},
    {"role": "user", "content": "Another?"},
]

# Gemma 1's own template: no system role, strict alternation.
GEMMA_GGUF_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}")

# Mistral 7B Instruct v0.1's own template: strict alternation, system refused.
MISTRAL_GGUF_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
    "{% endfor %}")


@pytest.fixture(scope="module")
def starter_vocab(starter_gguf: Path) -> Iterator[llama_cpp.Llama]:
    llama = llama_cpp.Llama(model_path=str(starter_gguf), vocab_only=True, verbose=False)
    yield llama
    llama.close()


def _token_text(llama: llama_cpp.Llama, token: int) -> str:
    return llama._model.token_get_text(token)


def _choice(name: str) -> TemplateChoice:
    return choose_template({}, override_format=name)


# --- (i) the real starter model -------------------------------------------------------------

def test_starter_model_uses_its_own_template_exactly_as_llama_cpp_renders_it(
        starter_vocab: llama_cpp.Llama) -> None:
    metadata = starter_vocab.metadata
    choice = choose_template(metadata)
    assert (choice.name, choice.source) == ("gguf", "gguf")
    assert choice.template == metadata["tokenizer.chat_template"]
    assert choice.base_model_warning is None
    assert "<|im_end|>" in choice.stops
    bos = _token_text(starter_vocab, starter_vocab.token_bos())
    eos = _token_text(starter_vocab, starter_vocab.token_eos())

    ours = render_messages(choice, CONVERSATION, bos, eos)
    theirs = Jinja2ChatFormatter(template=choice.template, eos_token=eos, bos_token=bos)(
        messages=CONVERSATION)

    assert ours.prompt == theirs.prompt
    assert ours.adjustments == []
    assert eos in ours.stops
    our_tokens = starter_vocab.tokenize(ours.prompt.encode(), add_bos=False, special=True)
    their_tokens = starter_vocab.tokenize(theirs.prompt.encode(), add_bos=False, special=True)
    assert our_tokens == their_tokens
    im_start, im_end = starter_vocab.tokenize(b"<|im_start|><|im_end|>", add_bos=False,
                                              special=True)
    assert our_tokens.count(im_start) == 5 and our_tokens.count(im_end) == 4


def test_builtin_chatml_matches_the_starter_models_template_given_a_system_prompt(
        starter_vocab: llama_cpp.Llama) -> None:
    own = render_messages(choose_template(starter_vocab.metadata), CONVERSATION, "", "")
    assert render_messages(_choice("chatml"), CONVERSATION, "", "").prompt == own.prompt


def test_the_starter_vocabulary_alone_picks_chatml(starter_vocab: llama_cpp.Llama) -> None:
    metadata = {k: v for k, v in starter_vocab.metadata.items()
                if k not in ("tokenizer.chat_template", "general.basename", "general.name")}
    assert choose_template(metadata).name == "llama-2"
    vocab = [_token_text(starter_vocab, i) for i in range(starter_vocab.n_vocab())]
    choice = choose_template(metadata, tokens=vocab)
    assert (choice.name, choice.source) == ("chatml", "architecture")
    assert "special tokens" in choice.explanation


@pytest.mark.parametrize("name", list(FORMATS))
def test_our_environment_renders_like_llama_cpp(name: str) -> None:
    template = FORMATS[name].template
    ours = render_messages(_choice(name), CONVERSATION, "<s>", "</s>").prompt
    theirs = Jinja2ChatFormatter(template=template, eos_token="</s>", bos_token="<s>")(
        messages=CONVERSATION).prompt
    assert ours == theirs


def test_block_whitespace_generation_tags_and_tojson_render_like_llama_cpp() -> None:
    template = ("{% for m in messages %}\n  {% generation %}{{ m | tojson }}{% endgeneration %}\n"
                "{% if loop.last %}\n{{ m['content'] }}\n{% endif %}{% endfor %}")
    ours = render_messages(choose_template({}, override_template=template), CONVERSATION,
                           "", "").prompt
    theirs = Jinja2ChatFormatter(template=template, eos_token="", bos_token="")(
        messages=CONVERSATION).prompt
    assert ours == theirs


# --- (ii) a format from the metadata when the file has none ----------------------------------

@pytest.mark.parametrize(("metadata", "tokens", "expected", "source", "words"), [
    ({"general.architecture": "llama"}, ["<s>", "<|start_header_id|>", "<|eot_id|>"],
     "llama-3", "architecture", "special tokens"),
    ({"general.architecture": "llama", "tokenizer.ggml.pre": "llama-bpe"}, None,
     "llama-3", "architecture", "architecture (llama) and tokenizer"),
    ({"general.architecture": "llama", "general.name": "Meta Llama 3.1 8B Instruct"}, None,
     "llama-3", "architecture", "name"),
    ({"general.architecture": "llama"}, ["<s>", "</s>", "<unk>"],
     "llama-2", "architecture", "architecture (llama)"),
    ({"general.architecture": "llama", "general.name": "llama-30b"}, None,
     "llama-2", "architecture", "architecture (llama)"),
    ({"general.architecture": "llama", "general.name": "Mistral 7B Instruct v0.2"}, None,
     "mistral", "architecture", "name"),
    ({"general.architecture": "llama", "general.name": "OpenHermes 2.5 Mistral 7B"}, None,
     "chatml", "architecture", "name"),
    ({"general.architecture": "llama", "general.name": "TinyLlama 1.1B Chat v1.0"}, None,
     "zephyr", "architecture", "name"),
    ({"general.architecture": "llama", "general.basename": "vicuna", "general.size_label": "7B"},
     None, "vicuna", "architecture", "name"),
    ({"general.architecture": "qwen2"}, None, "chatml", "architecture", "architecture (qwen2)"),
    ({"general.architecture": "gemma2"}, None, "gemma", "architecture", "architecture (gemma2)"),
    ({"general.architecture": "phi3"}, None, "phi-3", "architecture", "architecture (phi3)"),
    ({"general.architecture": "command-r"}, None, "command-r", "architecture", "command-r"),
    ({"general.architecture": "starcoder2"}, None, "alpaca", "architecture", "starcoder2"),
    ({"general.architecture": "mamba"}, None, "chatml", "default",
     "format, which most chat models understand (Hearth does not know its architecture, "
     "“mamba”)."),
    ({}, None, "chatml", "default", "(the file does not name its architecture)."),
])
def test_a_format_is_picked_from_the_metadata(metadata: dict[str, str], tokens: list[str] | None,
                                              expected: str, source: str, words: str) -> None:
    choice = choose_template(metadata, tokens=tokens)
    assert (choice.name, choice.source) == (expected, source)
    assert choice.template == FORMATS[expected].template
    assert choice.stops == list(FORMATS[expected].stops)
    assert choice.explanation.startswith("This model file has no chat template; using the "
                                         f"{FORMATS[expected].label} format")
    assert choice.explanation.endswith(".") and ".." not in choice.explanation
    assert words in choice.explanation


def test_marker_tokens_cover_llama_3() -> None:
    assert {"<|eot_id|>", "<|start_header_id|>", "<|im_start|>"} <= set(MARKER_TOKENS)


def test_a_broken_gguf_template_falls_back_and_says_why() -> None:
    metadata = {"general.architecture": "gemma",
                "tokenizer.chat_template": "{% for m in messages %}{{ m.content }"}
    choice = choose_template(metadata)
    assert (choice.name, choice.source) == ("gemma", "architecture")
    assert choice.explanation.startswith("This model file's chat template cannot be used "
                                         "(syntax error on line 1")
    assert "using the Gemma format chosen from its architecture (gemma)" in choice.explanation


def test_a_gguf_template_that_refuses_everything_falls_back_to_chatml() -> None:
    choice = choose_template({"tokenizer.chat_template": "{{ raise_exception('nope') }}"})
    assert (choice.name, choice.source) == ("chatml", "default")
    assert "it says “nope”" in choice.explanation


# --- (iii) base models -------------------------------------------------------------------------

@pytest.mark.parametrize("metadata", [
    {"general.architecture": "llama", "general.name": "Llama 2 7B"},
    {"general.architecture": "qwen2", "general.name": "Qwen2.5 0.5B"},
    {"general.architecture": "qwen2", "general.name": "Qwen2.5 0.5B", "general.finetune": "base",
     "tokenizer.chat_template": CONVERSATION[0]["content"] + "{{ messages[-1]['content'] }}"},
])
def test_a_base_model_gets_a_warning(metadata: dict[str, str]) -> None:
    assert choose_template(metadata).base_model_warning == BASE_MODEL_WARNING


@pytest.mark.parametrize("metadata", [
    {"general.architecture": "llama", "general.name": "Llama 2 7B Chat"},
    {"general.architecture": "llama", "general.name": "Mistral 7B", "general.finetune": "Instruct"},
    {"general.architecture": "gemma2", "general.name": "gemma-2-2b-it"},
    {"general.architecture": "llama", "general.name": "OpenHermes 2.5 Mistral 7B"},
    {"general.architecture": "llama"},  # no name: nothing to judge by
    {"general.architecture": "llama", "general.name": "Some Model",
     "tokenizer.chat_template": GEMMA_GGUF_TEMPLATE},
])
def test_an_instruct_model_gets_no_warning(metadata: dict[str, str]) -> None:
    assert choose_template(metadata).base_model_warning is None


# --- (iv) repairs and errors ----------------------------------------------------------------

def test_a_template_without_a_system_role_gets_it_merged_into_the_first_user_turn() -> None:
    choice = choose_template({"tokenizer.chat_template": GEMMA_GGUF_TEMPLATE})
    assert choice.source == "gguf"
    assert "<end_of_turn>" in choice.stops
    rendered = render_messages(choice, CONVERSATION, "<bos>", "<eos>")
    assert rendered.prompt == (
        "<bos><start_of_turn>user\nYou are terse.\n\nName a colour.<end_of_turn>\n"
        "<start_of_turn>model\nBlue.<end_of_turn>\n"
        "<start_of_turn>user\nAnother?<end_of_turn>\n<start_of_turn>model\n")
    assert rendered.adjustments == ["Merged the system prompt into the first user message."]


def test_a_strictly_alternating_template_gets_consecutive_messages_joined() -> None:
    choice = choose_template({"tokenizer.chat_template": MISTRAL_GGUF_TEMPLATE})
    messages = [{"role": "user", "content": "One."}, {"role": "user", "content": "Two."},
                {"role": "assistant", "content": "Three."}]
    rendered = render_messages(choice, messages, "<s>", "</s>")
    assert rendered.prompt == "<s>[INST] One.\n\nTwo. [/INST]Three.</s>"
    assert rendered.adjustments == ["Joined consecutive messages from the same role into one."]


def test_all_repairs_together() -> None:
    choice = choose_template({"tokenizer.chat_template": MISTRAL_GGUF_TEMPLATE})
    messages = [{"role": "assistant", "content": "Hi, I am Hearth."},
                {"role": "system", "content": "Be kind."}, {"role": "user", "content": "A"},
                {"role": "user", "content": "B"}]
    rendered = render_messages(choice, messages, "<s>", "</s>")
    assert rendered.prompt == "<s>[INST] Be kind.\n\nA\n\nB [/INST]"
    assert len(rendered.adjustments) == 3


def test_a_template_that_always_refuses_raises_a_readable_template_error() -> None:
    choice = TemplateChoice("custom", "{{ raise_exception('I refuse every chat') }}", [],
                            "override", "")
    with pytest.raises(TemplateError) as caught:
        render_messages(choice, CONVERSATION, "<s>", "</s>")
    assert isinstance(caught.value, HearthError)
    assert caught.value.message == ("The chat template (you entered) cannot render this "
                                    "conversation: it says “I refuse every chat”.")
    assert "chat format" in caught.value.hint


def test_a_template_that_renders_nothing_is_an_error() -> None:
    choice = TemplateChoice("gguf", "{% if false %}x{% endif %}", [], "gguf", "")
    with pytest.raises(TemplateError, match="empty prompt"):
        render_messages(choice, CONVERSATION, "", "")


@pytest.mark.parametrize(("template", "problem"), [
    ("{% for m in messages %}{{ m.content }", "syntax error on line 1"),
    ("{{ messages[0].content.__class__.__mro__ }}", "unsafe"),
    ("Hello!", "leaves the messages out"),
    ("{{ 1 / 0 }}", "ZeroDivisionError"),
])
def test_a_pasted_template_that_does_not_work_is_refused(template: str, problem: str) -> None:
    with pytest.raises(TemplateError, match="The chat template you entered cannot be used") as e:
        choose_template({}, override_template=template)
    assert problem in e.value.message
    assert e.value.message.endswith(".") and ".." not in e.value.message
    assert "Traceback" not in str(e.value)


def test_a_pasted_template_wins_and_gets_stops_from_its_tokens() -> None:
    template = FORMATS["llama-3"].template
    choice = choose_template({"tokenizer.chat_template": GEMMA_GGUF_TEMPLATE},
                             override_format="alpaca", override_template=template)
    assert (choice.name, choice.source, choice.template) == ("custom", "override", template)
    assert "<|eot_id|>" in choice.stops


def test_an_override_format_name_wins_over_the_file() -> None:
    choice = choose_template({"tokenizer.chat_template": GEMMA_GGUF_TEMPLATE},
                             override_format=" Llama-3 ", override_template="  ")
    assert (choice.name, choice.source) == ("llama-3", "override")
    assert choice.explanation == "Using the Llama 3 format you chose for this model."


def test_an_unknown_override_format_name_lists_the_valid_ones() -> None:
    with pytest.raises(TemplateError, match="no chat format called “llama-7”") as caught:
        choose_template({}, override_format="llama-7")
    assert all(name in caught.value.hint for name in FORMATS)


# --- (v) every format, rendered -----------------------------------------------------------------

EXPECTED = {
    "chatml": ("", "", "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\n"
               "Name a colour.<|im_end|>\n<|im_start|>assistant\nBlue.<|im_end|>\n"
               "<|im_start|>user\nAnother?<|im_end|>\n<|im_start|>assistant\n"),
    "llama-3": ("<|begin_of_text|>", "<|eot_id|>",
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse."
                "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\nBlue.<|eot_id|>"
                "<|start_header_id|>user<|end_header_id|>\n\nAnother?<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    "llama-2": ("<s>", "</s>", "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nName a colour. "
                "[/INST] Blue. </s><s>[INST] Another? [/INST]"),
    "mistral": ("<s>", "</s>",
                "<s>[INST] You are terse.\n\nName a colour. [/INST] Blue.</s>"
                "[INST] Another? [/INST]"),
    "gemma": ("<bos>", "<eos>", "<bos><start_of_turn>user\nYou are terse.\n\nName a colour."
              "<end_of_turn>\n<start_of_turn>model\nBlue.<end_of_turn>\n<start_of_turn>user\n"
              "Another?<end_of_turn>\n<start_of_turn>model\n"),
    "phi-3": ("<s>", "<|endoftext|>", "<|system|>\nYou are terse.<|end|>\n<|user|>\n"
              "Name a colour.<|end|>\n<|assistant|>\nBlue.<|end|>\n<|user|>\nAnother?<|end|>\n"
              "<|assistant|>\n"),
    "zephyr": ("<s>", "</s>", "<|system|>\nYou are terse.</s>\n<|user|>\nName a colour.</s>\n"
               "<|assistant|>\nBlue.</s>\n<|user|>\nAnother?</s>\n<|assistant|>\n"),
    "vicuna": ("<s>", "</s>",
               "<s>You are terse. USER: Name a colour. ASSISTANT: Blue.</s>USER: Another? "
               "ASSISTANT:"),
    "alpaca": ("<s>", "</s>", "<s>You are terse.\n\n### Instruction:\nName a colour.\n\n"
               "### Response:\nBlue.\n\n### Instruction:\nAnother?\n\n### Response:\n"),
    "command-r": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>",
                  "<BOS_TOKEN><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are terse."
                  "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Name a colour."
                  "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Blue."
                  "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Another?"
                  "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"),
    "deepseek": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
                 "<｜begin▁of▁sentence｜>You are terse.\n\nUser: Name a colour.\n\nAssistant: "
                 "Blue.<｜end▁of▁sentence｜>User: Another?\n\nAssistant:"),
}


def test_every_format_has_an_expected_rendering() -> None:
    assert set(EXPECTED) == set(FORMATS)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_format_renders_system_user_assistant_user(name: str) -> None:
    bos, eos, expected = EXPECTED[name]
    rendered = render_messages(_choice(name), CONVERSATION, bos, eos)
    assert rendered.prompt == expected
    assert rendered.adjustments == []
    assert rendered.stops[:len(FORMATS[name].stops)] == list(FORMATS[name].stops)


@pytest.mark.parametrize(("name", "start"), [
    ("vicuna", "<s>A chat between a curious user and an artificial intelligence assistant. "
               "The assistant gives helpful, detailed, and polite answers to the user's "
               "questions. USER: Hi ASSISTANT:"),
    ("alpaca", "<s>Below is an instruction that describes a task. Write a response that "
               "appropriately completes the request.\n\n### Instruction:\nHi\n\n### Response:\n"),
    ("mistral", "<s>[INST] Hi [/INST]"),
    ("llama-2", "<s>[INST] Hi [/INST]"),
    ("gemma", "<s><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"),
])
def test_formats_without_a_system_prompt(name: str, start: str) -> None:
    prompt = render_messages(_choice(name), [{"role": "user", "content": "Hi"}], "<s>", "</s>")
    assert prompt.prompt == start


def test_the_module_loads_neither_qt_nor_llama_cpp() -> None:
    code = "import sys, app.engine.chat_templates; print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2]).stdout
    assert "'llama_cpp'" not in out and "'PySide6'" not in out
