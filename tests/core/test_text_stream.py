"""Token bytes become whole characters; stop strings never reach the user."""

from __future__ import annotations

from app.engine.text_stream import TextStream


def _run(stream: TextStream, chunks: list[bytes]) -> str:
    return "".join(stream.feed(c) for c in chunks) + stream.finish()


def test_multibyte_characters_split_across_tokens() -> None:
    data = "héllo 🙂 日本".encode()
    chunks = [data[i:i + 1] for i in range(len(data))]
    stream = TextStream([])
    pieces = [stream.feed(c) for c in chunks]
    assert "".join(pieces) + stream.finish() == "héllo 🙂 日本"
    assert all("\ufffd" not in piece for piece in pieces)


def test_stop_string_is_cut_and_held_text_released() -> None:
    stream = TextStream(["<|im_end|>"])
    assert _run(stream, [b"Hi <", b"|im", b"_end|>", b" tail"]) == "Hi "
    assert stream.stopped


def test_partial_stop_prefix_that_is_not_a_stop_is_released() -> None:
    stream = TextStream(["</s>"])
    out = [stream.feed(b"a </"), stream.feed(b"b> c")]
    assert out[0] == "a "             # "</" might start the stop string: held back
    assert out[0] + out[1] + stream.finish() == "a </b> c"
    assert not stream.stopped


def test_earliest_of_several_stop_strings_wins() -> None:
    assert _run(TextStream(["END", "STOP"]), [b"x STOP y END"]) == "x "
