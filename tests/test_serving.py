"""The micro-batcher: concurrent requests are decoded together, and each gets exactly its own result."""
import contextlib
import threading
import time
import tomllib

import pytest

from engine.data import corpora
from engine.inference.serving import MicroBatcher, load_test
from engine.inference.translate import Translator
from engine.paths import ROOT

from .conftest import save_tiny_checkpoint


@pytest.fixture(scope="module")
def translator(tmp_path_factory, tiny_tokenizer):
    return Translator.load(save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "gru-attn", "gru-attn",
                                                tiny_tokenizer))


def sentences(n):
    return [s for s, _ in corpora.load_split("ding-en-de", "test")[:n]]


def at_once(calls):
    """Run the calls in threads that start together; their results (or exceptions) in order."""
    ready, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i):
        ready.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("settings", [{"beam": 1}, {"beam": 3, "length_penalty": 2.0, "with_attention": True}])
def test_concurrent_requests_get_their_own_translations_as_if_alone(translator, settings):
    batcher, texts = MicroBatcher(window_s=0.05), sentences(12)
    got = at_once([lambda s=s: batcher.translate(translator, s, **settings) for s in texts])
    alone = [translator.translate([s], **settings)[0] for s in texts]
    assert [g.text for g in got] == [a.text for a in alone]
    assert [g.tokens for g in got] == [a.tokens for a in alone]
    if settings.get("with_attention"):
        assert all(g.attention.shape == a.attention.shape for g, a in zip(got, alone))
    assert max(batcher.batch_sizes) > 1  # they were batched
    assert sum(size * count for size, count in batcher.batch_sizes.items()) == len(texts)


def test_a_bad_request_fails_alone(translator):
    batcher, texts = MicroBatcher(window_s=0.05), sentences(6)
    requests = texts[:3] + [None] + texts[3:]  # None cannot be tokenized
    got = at_once([lambda s=s: batcher.translate(translator, s) for s in requests])
    assert isinstance(got[3], Exception)
    ok = got[:3] + got[4:]
    assert [g.text for g in ok] == [translator.translate([s])[0].text for s in texts]


class SlowStub:
    """Stands in for a translator: records the batches it gets, and takes `seconds` per batch."""

    def __init__(self, seconds):
        self.seconds, self.batches = seconds, []

    def translate(self, sentences, batch_size=32, **settings):
        self.batches.append(list(sentences))
        time.sleep(self.seconds)
        return [f"{s}!" for s in sentences]


def test_requests_arriving_while_a_model_is_busy_form_its_next_batch():
    batcher, model = MicroBatcher(window_s=0.0), SlowStub(0.3)
    first = threading.Thread(target=batcher.translate, args=(model, "first"))
    first.start()
    time.sleep(0.1)  # the first batch is being decoded
    got = at_once([lambda i=i: batcher.translate(model, f"s{i}") for i in range(5)])
    first.join()
    assert got == [f"s{i}!" for i in range(5)]
    assert model.batches[0] == ["first"] and sorted(model.batches[1]) == [f"s{i}" for i in range(5)]


def test_a_slow_model_does_not_hold_up_another():
    batcher, slow, fast = MicroBatcher(window_s=0.0), SlowStub(1.0), SlowStub(0.0)
    slow_thread = threading.Thread(target=batcher.translate, args=(slow, "slow"))
    slow_thread.start()
    time.sleep(0.1)
    start = time.perf_counter()
    assert batcher.translate(fast, "quick") == "quick!"
    assert time.perf_counter() - start < 0.5 and slow_thread.is_alive()
    slow_thread.join()


def test_different_settings_are_never_mixed_in_one_batch():
    batcher, model = MicroBatcher(window_s=0.05), SlowStub(0.1)
    got = at_once([lambda i=i: batcher.translate(model, f"s{i}", beam=1 + i % 2) for i in range(10)])
    assert got == [f"s{i}!" for i in range(10)]
    assert max(len(b) for b in model.batches) > 1
    assert all(len({int(s[1:]) % 2 for s in b}) == 1 for b in model.batches)  # one beam size per batch


def test_a_lone_visitor_never_waits_for_company_but_a_busy_model_does():
    batcher, model = MicroBatcher(window_s=0.3), SlowStub(0.0)
    start = time.perf_counter()
    batcher.translate(model, "alone")
    assert time.perf_counter() - start < 0.2
    start = time.perf_counter()
    batcher.translate(model, "soon after")  # within a second of another request: waits for company
    assert time.perf_counter() - start >= 0.3


def test_the_load_generator_reports_latency_and_matches_lone_users(translator):
    texts = sentences(4)
    report = load_test({"a": translator}, texts, sessions=8)
    assert report["sessions"] == 8 and report["p95_s"] >= report["p50_s"] > 0
    lone = {s: translator.translate([s])[0].text for s in texts}
    assert all(o["texts"]["a"] == lone[o["sentence"]] for o in report["outputs"])


def test_the_server_skips_streamlits_full_garbage_collection_after_every_rerun():
    """With torch, transformers and plotly loaded a full collection walks ~430k objects (0.25 s holding the GIL) after
    every rerun of every session: 20 visitors queued behind those (README, Speed). Python's own collector still runs."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


@pytest.mark.slow
def test_the_translate_page_waits_with_a_still_note_not_an_animated_spinner(monkeypatch):
    """Without a GPU a browser redraws st.spinner's animation in software: about a tenth of a core per waiting tab,
    which a class of 20 waiting tabs took from the server in the load test (README, Speed)."""
    import streamlit as st

    from dashboard import widgets
    from tests.helpers import answered_models, open_page, translate

    notes = []

    @contextlib.contextmanager
    def recorded_note(text):
        notes.append(text)
        with real_note(text):
            yield

    def no_spinner(*args, **kwargs):
        raise AssertionError("st.spinner on the Translate page")

    real_note = widgets.waiting_note
    monkeypatch.setattr(st, "spinner", no_spinner)
    monkeypatch.setattr(widgets, "waiting_note", recorded_note)
    at = translate(open_page("views/translate.py"), "The house is small.")
    count = len(answered_models(at))
    assert notes == [f"Loading {count} models…", f"Translating with {count} models…"]
    assert not any("Translating" in c.value for c in at.caption)  # gone once the answers are there
