"""The engine protocol: every message survives the wire; malformed ones are refused."""

from __future__ import annotations

import pickle

import pytest

from app.core import protocol as p

MESSAGES = [
    p.Load(request_id="r1", model=p.ModelSpec(path="/m.gguf", n_ctx=512, n_threads=2)),
    p.Chat(request_id="r2", model=p.ModelSpec(path="/m.gguf", flash_attn=True, type_v="q8_0"),
           messages=[{"role": "user", "content": "hé 🙂"}],
           sampling=p.Sampling(temperature=0.0, seed=7, max_tokens=5, stop=("END",)),
           context_policy="rolling", cache_key="conversation-3"),
    p.Cancel(request_id="r2"),
    p.Unload(),
    p.Shutdown(),
    p.Loaded(request_id="r1", model_path="/m.gguf", n_ctx=512, n_threads=2, load_s=0.3,
             chat_template=True, n_ctx_train=8192, chat_format="gguf",
             template_note="the file's own template", warnings=("CPU-only build",)),
    p.Started(request_id="r2", prompt_tokens=30, cached_tokens=20, n_ctx=512,
              dropped_messages=2),
    p.Delta(request_id="r2", text="Hello"),
    p.Done(request_id="r2", stats=p.ReplyStats(prompt_tokens=3, completion_tokens=4,
                                                ttft_s=0.1, tokens_per_second=100.0,
                                                stop_reason=p.StopReason.STOPPED,
                                                cached_tokens=2, n_ctx=512,
                                                context_used=7, dropped_messages=2)),
    p.Error(request_id="r2", code=p.ErrorCode.MODEL_FILE, message="bad file"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.TYPE)
def test_round_trip_through_pickle(message: p.Message) -> None:
    wire = pickle.loads(pickle.dumps(p.encode(message)))
    assert wire["v"] == p.PROTOCOL_VERSION
    assert wire["type"] == message.TYPE
    assert p.decode(wire) == message


def test_wire_form_is_plain_data() -> None:
    wire = p.encode(MESSAGES[1])
    assert wire["model"]["path"] == "/m.gguf" and wire["model"]["type_k"] == "f16"
    assert isinstance(wire["sampling"], dict)
    assert all(isinstance(v, str | int | float | bool | tuple | type(None))
               for v in wire["sampling"].values())


@pytest.mark.parametrize("wire, complaint", [
    ({"v": 99, "type": "cancel", "request_id": "x"}, "version"),
    ({"type": "cancel", "request_id": "x"}, "version"),
    ({"v": p.PROTOCOL_VERSION, "type": "explode"}, "unknown message type"),
    ({"v": p.PROTOCOL_VERSION, "type": "cancel"}, "bad cancel"),
    ({"v": p.PROTOCOL_VERSION, "type": "load", "request_id": "x",
      "model": {"path": "/m", "bogus": 1}}, "bad model"),
    (["not", "a", "dict"], "expected a dict"),
])
def test_malformed_messages_are_refused(wire: object, complaint: str) -> None:
    with pytest.raises(p.ProtocolError, match=complaint):
        p.decode(wire)
