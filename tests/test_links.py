"""Links that reproduce a view (the query string), and hostile query strings: AppTest on the shipped models."""
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.models import bench_files, list_models
from tests.helpers import answered_models, open_page, plotly_titles

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not list_models(), reason="needs the shipped checkpoints")]


def opened(query: dict, page: str = "views/translate.py") -> AppTest:
    """The app opened from a link to `page` with `query`, as a fresh visitor."""
    return open_page(page, query)


def test_a_translate_link_opens_its_settings_and_translates_its_sentence():
    # a list's choices travel as the names the page shows them by
    at = opened({"text": "The dog bites the man.", "models": ["Transformer", "GRU + attention"],
                 "decoding": "beam search", "beam": "3", "shuffle": "true"})
    assert at.text_area(key="text").value == "The dog bites the man."
    assert at.multiselect(key="models").value == ["transformer", "gru-attn"]
    assert at.slider(key="beam").value == 3 and at.toggle(key="shuffle").value
    # translated without a click: the original and the shuffled words, recurrent cards first
    assert answered_models(at) == ["gru-attn", "transformer"] * 2
    assert not [c for c in at.caption if "could not be used" in c.value]


HOSTILE_QUERIES = {
    "values out of range or unknown": {"beam": "99", "models": "no-such-model", "dir": "xx-yy",
                                       "decoding": "beam search"},
    "a decoding that does not exist": {"decoding": "fast", "race-clock": "sundial"},
    "markup and script in the sentence": {"text": "<script>alert(1)</script> **bold** [a](javascript:alert(1))"},
    "a sentence of 20,000 characters": {"text": "word " * 4_000},
    "a query string over Streamlit's limit": {"text": "word " * 200_000},
    "unknown keys and an injected style": {"hide": "beam}</style><script>alert(1)</script>", "zzz": "1",
                                           "__proto__": "x"},
    "control characters and lone marks": {"text": "\u202e\u0000abc\u0301\ufeff", "shuffle": "maybe"},
    "an unknown language with markup": {"lang": "xx\"><script>alert(1)</script>"},
}


@pytest.mark.parametrize("name", list(HOSTILE_QUERIES))
def test_hostile_query_strings_fall_back_to_defaults_with_a_notice_and_never_reach_markdown(name):
    query = HOSTILE_QUERIES[name]
    at = opened(query)
    shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "<script>" not in shown and "javascript:" not in shown and "alert(1)" not in shown
    bad = [k for k in ("beam", "models", "dir", "shuffle") if k in query] + ["decoding"] * (
        query.get("decoding") == "fast")
    if bad:
        notice = next(c.value for c in at.caption if "could not be used here" in c.value)
        assert all(k in notice for k in bad)
        assert at.multiselect(key="models").value == [e.name for e in list_models() if e.shipped]
    if "lang" in query:  # an unknown language: the page in English, the address corrected
        assert at.title[0].value == "Translate" and at.query_params["lang"] == "en"
    if name == "a query string over Streamlit's limit":  # Streamlit ignores the whole query string
        assert at.text_area(key="text").value == "" and not answered_models(at)
    elif "text" in query:  # the link's sentence is translated (cut to length, with a notice), or refused politely
        assert at.info or answered_models(at)
        if len(query["text"]) > 10_000:
            assert any("only the first" in w.value for w in at.warning)



@pytest.mark.parametrize("page,query,check", [
    ("views/quality.py", {"test-set": "long Bible verses (bible-en-de, about 25 words)", "metric": "BLEU"},
     lambda at: "BLEU on the bible-en-de test split" in plotly_titles(at)),
    ("views/quality.py", {"lang": "zh", "test-set": "较长的《圣经》经文（bible-en-de，约 25 个词）", "metric": "BLEU"},
     lambda at: "bible-en-de 测试集上的 BLEU" in plotly_titles(at)),  # a link copied from the Chinese page
    ("views/speed.py", {"bench": "bench-cpu-2cores-epyc.json", "bench-search": "beam search (5)"},
     lambda at: at.selectbox(key="bench").value.name == "bench-cpu-2cores-epyc.json"
     and "beam5 decoding latency at batch 1" in plotly_titles(at)),
    ("views/story.py", {"story-length": "100", "story-how": "shuffle at random"},
     lambda at: {m.label: m.value for m in at.metric}["GRU: steps one after another"] == "400"
     and at.segmented_control(key="story-how").value == "shuffle"),
    ("views/lab.py", {"experiment": "Positional encoding", "grad-init": "orthogonal", "pe-sentence": "A cat sat."},
     lambda at: at.segmented_control(key="grad-init").value == "orthogonal"
     and at.text_input(key="pe-sentence").value == "A cat sat."),
    ("views/arena.py", {"sentence": "Where is the station?"},
     lambda at: at.text_area(key="sentence").value == "Where is the station?"),
    ("views/playground.py", {"preset": "bottleneck", "seed-bottleneck": "7", "seconds-bottleneck": "12"},
     lambda at: at.number_input(key="seed-bottleneck").value == 7 and at.slider(key="seconds-bottleneck").value == 12),
])
def test_every_pages_link_opens_its_settings(page, query, check):
    at = opened(query, page)
    assert check(at)
    assert not [c for c in at.caption if "could not be used" in c.value]


def test_a_bad_value_on_another_page_gets_the_notice_and_the_default():
    at = opened({"bench": "../../etc/passwd", "bench-search": "<b>x</b>"}, "views/speed.py")
    notice = next(c.value for c in at.caption if "could not be used here" in c.value)
    assert "bench" in notice and "<b>" not in notice
    assert at.selectbox(key="bench").value.name == bench_files()[0].name
