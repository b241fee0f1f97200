"""The hub browser against the local test hub, through the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import time

import pytest
from huggingface_hub import constants

from app.core.errors import HubError
from app.core.hub import HubClient, HubFile, HubPart, card_excerpt, recommend
from app.core.hub_files import group_files, quantization_of, safe_file_name
from app.core.memory import fit_label
from tests.hub_server import LocalHub, free_port

CARD = b"""---
license: apache-2.0
tags: [gguf]
---

# Tiny Llama GGUF

Quantised with llama.cpp.
""" + b"".join(b"line %d\n\n" % i for i in range(20))


def _quant_repo(hub: LocalHub) -> None:
    hub.add_repo("org/Tiny-GGUF", {
        "tiny-Q8_0.gguf": b"8" * 800,
        "tiny-Q4_K_M.gguf": b"4" * 400,
        "tiny.IQ2_XS.gguf": b"2" * 200,
        "BF16/tiny-BF16-00001-of-00003.gguf": b"a" * 600,
        "BF16/tiny-BF16-00002-of-00003.gguf": b"b" * 600,
        "BF16/tiny-BF16-00003-of-00003.gguf": b"c" * 100,
        "mmproj-tiny-F16.gguf": b"m" * 50,
        "config.json": b"{}",
        "README.md": CARD,
    }, downloads=10)


def test_the_client_uses_hf_endpoint(hub: LocalHub) -> None:
    client = HubClient()
    assert client.endpoint == hub.url == constants.ENDPOINT
    url = client.file_url("org/x", "a" * 40, "dir/m-Q4_0.gguf")
    assert url == f"{hub.url}/org/x/resolve/{'a' * 40}/dir/m-Q4_0.gguf"


def test_search_finds_gguf_repos_most_downloaded_first(hub: LocalHub) -> None:
    hub.add_repo("org/Qwen-small-GGUF", {"a.gguf": b"x"}, downloads=5, likes=2)
    hub.add_repo("org/Qwen-big-GGUF", {"a.gguf": b"x"}, downloads=50, gated=True)
    hub.add_repo("org/Qwen-safetensors", {"a.bin": b"x"}, downloads=99, tags=("pytorch",))
    hub.add_repo("other/Llama-GGUF", {"a.gguf": b"x"}, downloads=500)
    found = HubClient().search("qwen")
    assert [r.id for r in found] == ["org/Qwen-big-GGUF", "org/Qwen-small-GGUF"]
    assert found[0].gated and not found[1].gated
    assert (found[1].downloads, found[1].likes, found[1].tags) == (5, 2, ("gguf",))
    assert found[1].last_modified.startswith("2024-")
    [request] = hub.requests
    assert request.params["filter"] == ["gguf"] and request.params["sort"] == ["downloads"]


def test_odd_characters_in_a_search_are_sent_as_typed(hub: LocalHub) -> None:
    text = 'a&b=c #%/?+ "ü" 🙂 \\ ..'
    assert HubClient().search(text, limit=7) == []
    [request] = hub.requests
    assert request.params["search"] == [text]
    assert request.params["limit"] == ["7"]


def test_a_listing_groups_quants_and_split_parts(hub: LocalHub) -> None:
    _quant_repo(hub)
    listing = HubClient().listing("org/Tiny-GGUF")
    assert listing.revision == hub.repos["org/Tiny-GGUF"].sha
    assert [(f.quantization, f.size, len(f.parts)) for f in listing.files] == [
        ("IQ2_XS", 200, 1), ("Q4_K_M", 400, 1), ("Q8_0", 800, 1), ("BF16", 1300, 3)]
    split = listing.files[-1]
    assert split.path == "BF16/tiny-BF16-00001-of-00003.gguf"
    assert split.name == "tiny-BF16-00001-of-00003.gguf"
    assert [p.path.rsplit("-", 3)[1] for p in split.parts] == ["00001", "00002", "00003"]
    assert split.parts[1].sha256 == hashlib.sha256(b"b" * 600).hexdigest()
    assert all(f.revision == listing.revision for f in listing.files)
    assert listing.card_excerpt.splitlines() == [
        "# Tiny Llama GGUF", "Quantised with llama.cpp.", *[f"line {i}" for i in range(10)]]
    assert not listing.gated and listing.left_out == ()


def test_a_split_model_with_a_missing_part_is_left_out(hub: LocalHub) -> None:
    hub.add_repo("org/Broken-GGUF", {"m-Q4_0-00001-of-00002.gguf": b"x" * 10,
                                     "m-Q8_0.gguf": b"y" * 10})
    listing = HubClient().listing("org/Broken-GGUF")
    assert [f.quantization for f in listing.files] == ["Q8_0"]
    assert listing.left_out == ("m-Q4_0: only 1 of its 2 parts are in the repo.",)
    assert listing.card_excerpt == ""


def test_unsafe_hub_file_names_are_not_offered(hub: LocalHub) -> None:
    hub.add_repo("org/Evil-GGUF", {"../evil-Q4_0.gguf": b"e", "/etc/abs-Q4_0.gguf": b"a",
                                   "dir\\win-Q4_0.gguf": b"w", "sub/dir/fine-Q4_0.gguf": b"f"})
    listing = HubClient().listing("org/Evil-GGUF")
    assert [f.name for f in listing.files] == ["fine-Q4_0.gguf"]
    assert len(listing.left_out) == 3
    assert all("refused" in note for note in listing.left_out)


@pytest.mark.parametrize("name", [
    "../x.gguf", "a/../x.gguf", "/abs.gguf", "C:/x.gguf", "c:x.gguf", "a\\x.gguf",
    "x\0.gguf", "", "model.bin", ".gguf", "dir/.hidden.gguf", "a//x.gguf", "./x.gguf",
    "x\n.gguf", "x:y.gguf", "a" * 300 + ".gguf"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(HubError, match="refused") as caught:
        safe_file_name(name)
    assert caught.value.hint


def test_a_safe_name_keeps_only_the_basename() -> None:
    assert safe_file_name("Q4_K_M/sub dir/Model v2-Q4_K_M.GGUF") == "Model v2-Q4_K_M.GGUF"


@pytest.mark.parametrize(("name", "quant"), [
    ("Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "Q4_K_M"), ("model.q8_0.gguf", "Q8_0"),
    ("x-IQ3_XXS.gguf", "IQ3_XXS"), ("x-F16.gguf", "F16"), ("x-BF16.gguf", "BF16"),
    ("x-Q4_0_4_4.gguf", "Q4_0_4_4"), ("x-UD-Q4_K_XL.gguf", "Q4_K_XL"),
    ("x-IQ4_NL.gguf", "IQ4_NL"), ("phi-2.Q2_K.gguf", "Q2_K"), ("x-TQ1_0.gguf", "TQ1_0"),
    ("Q8_0/big-Q8_0-00002-of-00009.gguf", "Q8_0"), ("gpt-oss-MXFP4.gguf", "MXFP4"),
    ("llama.gguf", ""), ("Qwen3-30B-A3B.gguf", "")])
def test_quantisation_from_the_file_name(name: str, quant: str) -> None:
    assert quantization_of(name) == quant


def test_recommend_picks_the_largest_file_that_fits() -> None:
    parts = [HubPart(f"m-{q}.gguf", size, "") for q, size in
             [("IQ2_XS", 100), ("Q4_K_M", 300), ("Q8_0", 600), ("F16", 1200)]]
    files, _ = group_files("org/m", "a" * 40, parts)
    need = {f.path: f.size + 100 for f in files}.__getitem__

    def pick(available: int) -> str | None:
        chosen = recommend(files, lambda f: fit_label(need(f.path), available))
        return chosen.quantization if chosen else None

    assert pick(1000) == "Q8_0"          # 700 fits (≤ 75 %); F16's 1300 does not
    assert pick(540) == "Q4_K_M"         # 400 ≤ 405
    assert pick(200) is None             # even IQ2_XS (200) is only "tight"
    assert pick(10_000) == "F16"


def test_card_excerpt_skips_front_matter_and_blank_lines() -> None:
    assert card_excerpt("---\na: 1\n---\n\n# T\n\ntext\n", lines=2) == "# T\ntext"
    assert card_excerpt("# No front matter\nx") == "# No front matter\nx"
    assert card_excerpt("---\nnever closed\n") == ""


@pytest.mark.parametrize("repo_id", ["../etc", "a/b/c", "", "noslash", "a/..", "a b/c",
                                     "org/name?x=1", "org/näme"])
def test_bad_repo_ids_are_refused_without_asking_the_hub(hub: LocalHub, repo_id: str) -> None:
    with pytest.raises(HubError, match="not a Hugging Face repository name"):
        HubClient().listing(repo_id)
    assert hub.requests == []


def test_a_missing_repo_is_a_clear_error(hub: LocalHub) -> None:
    with pytest.raises(HubError, match="org/missing was not found on Hugging Face"):
        HubClient().listing("org/missing")


def test_a_gated_repo_is_listed_but_its_files_need_the_token(hub: LocalHub) -> None:
    data = bytes(range(256)) * 8
    hub.add_repo("org/Gated-GGUF", {"g-Q4_0.gguf": data}, gated=True)
    listing = HubClient().listing("org/Gated-GGUF")
    assert listing.gated and [f.name for f in listing.files] == ["g-Q4_0.gguf"]
    args = ("org/Gated-GGUF", listing.revision, "g-Q4_0.gguf", 0, 16)
    with pytest.raises(HubError, match="is gated: Hugging Face needs an access token"):
        HubClient().read_range(*args)
    with pytest.raises(HubError, match="the access token was rejected"):
        HubClient(token="hf_wrong").read_range(*args)
    assert HubClient(token=hub.token).read_range(*args) == data[:16]
    assert hub.file_requests("g-Q4_0.gguf")[-1].authorization == f"Bearer {hub.token}"


def test_read_range_returns_the_requested_bytes(hub: LocalHub) -> None:
    data = bytes(range(256)) * 100
    repo = hub.add_repo("org/R-GGUF", {"r-Q4_0.gguf": data})
    client = HubClient()
    assert client.read_range("org/R-GGUF", repo.sha, "r-Q4_0.gguf", 1000, 3000) \
        == data[1000:4000]
    assert client.read_range("org/R-GGUF", repo.sha, "r-Q4_0.gguf", len(data) - 10, 100) \
        == data[-10:]
    assert hub.file_requests("r-Q4_0.gguf")[0].range_start == 1000


def test_headers_carry_the_user_agent_and_only_our_token() -> None:
    assert "authorization" not in {k.lower() for k in HubClient().headers()}
    headers = HubClient(token="hf_abc").headers()
    assert headers["authorization"] == "Bearer hf_abc"
    assert "hearth/" in headers["user-agent"]


def test_a_server_error_is_clear_and_a_retry_works(hub: LocalHub) -> None:
    hub.add_repo("org/Flaky-GGUF", {"f-Q4_0.gguf": b"x"})
    hub.fail("/api/models", "500")
    hub.fail("/api/models/org/Flaky-GGUF", "500")
    with pytest.raises(HubError, match=r"server error \(500\)") as caught:
        HubClient().search("flaky")
    assert "try again" in caught.value.hint
    with pytest.raises(HubError, match=r"server error \(500\) with org/Flaky-GGUF"):
        HubClient().listing("org/Flaky-GGUF")
    assert [r.id for r in HubClient().search("flaky")] == ["org/Flaky-GGUF"]
    assert len(HubClient().listing("org/Flaky-GGUF").files) == 1


def test_offline_is_a_clear_error_at_once(hub: LocalHub) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    began = time.monotonic()
    with pytest.raises(HubError) as caught:
        HubClient(endpoint=endpoint).search("qwen")
    assert time.monotonic() - began < 3
    assert caught.value.message.startswith(f"Can't reach Hugging Face at {endpoint}: ")
    assert "refused" in caught.value.message
    assert caught.value.message.endswith("Your models still work offline.")
    with pytest.raises(HubError, match="Can't reach Hugging Face"):
        HubClient(endpoint=endpoint).listing("org/x")


def test_a_hub_that_does_not_answer_times_out(hub: LocalHub) -> None:
    hub.fail("/api/models", "stall")
    began = time.monotonic()
    with pytest.raises(HubError, match="did not answer in time"):
        HubClient(timeout=0.3).search("x")
    assert time.monotonic() - began < 3


def test_a_dropped_connection_is_a_clear_error(hub: LocalHub) -> None:
    hub.fail("/api/models", "reset")
    with pytest.raises(HubError, match="Can't reach Hugging Face"):
        HubClient().search("x")


def test_hf_hub_offline_switches_the_browser_off(hub: LocalHub,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        HubClient().search("x")
    assert hub.requests == []


def test_a_hub_file_knows_its_library_name() -> None:
    part = HubPart("q/m-Q4_0.gguf", 1, "")
    assert HubFile("o/r", "a" * 40, part.path, (part,), 1, "Q4_0").name == "m-Q4_0.gguf"
