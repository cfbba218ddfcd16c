"""The Story page's evidence functions (dashboard/story.py), on small synthetic files."""
from dashboard import story

BENCH = {"machine": {"cpu": "Test CPU", "cores": 2, "threads": 2, "cpu_capability": "AVX2", "torch": "2.13"},
         "training": [{"preset": "gru", "length": 32, "tokens_per_s": 6000.0},
                      {"preset": "gru", "length": 256, "tokens_per_s": 1200.0}],
         "threads": [{"preset": "gru", "length": 32, "threads": 1, "tokens_per_s": 3000.0},
                     {"preset": "gru", "length": 32, "threads": 2, "tokens_per_s": 5400.0},
                     {"preset": "transformer", "length": 32, "threads": 1, "tokens_per_s": 2500.0},
                     {"preset": "transformer", "length": 32, "threads": 2, "tokens_per_s": 4500.0}]}


def test_speeds_and_thread_gains_come_from_the_bench_file():
    assert story.training_speed(BENCH, "gru", 256) == 1200.0
    assert story.training_speed(BENCH, "gru", 64) is None
    assert story.training_speed(BENCH, "transformer", 32, threads=1) == 2500.0
    assert story.thread_gains(BENCH) == {"gru": 1.8, "transformer": 1.8}
    assert story.machine_name(BENCH) == "Test CPU, 2 cores, 2 threads (AVX2), torch 2.13"


def long(chrf):
    return {"chrf": 30.0, "long_sentences": {"min_words": 30, "sentences": 293, "chrf": chrf}}


FAMILIES = {"transformer": "transformer", "gru-attn": "recurrent", "lstm-attn": "recurrent", "hf-marian": "hf-marian",
            "gru": "recurrent"}


def test_the_long_sentence_verdict_says_who_wins_either_way():
    won = story.long_sentence_verdict({"transformer": long(25.0), "gru-attn": long(22.0), "lstm-attn": long(20.0)},
                                      FAMILIES)
    assert won.startswith("On the 293 test sentences of 30 words or more, the transformer beats every recurrent")
    lost = story.long_sentence_verdict({"transformer": long(18.0), "gru-attn": long(22.0), "hf-marian": long(40.0)},
                                       FAMILIES)
    assert "does **not** beat" in lost and "22.0 for gru-attn" in lost  # hf-marian is no recurrent model
    assert story.long_sentence_verdict({"gru": long(10.0)}, FAMILIES) is None


def test_attention_gain_compares_the_two_grus():
    assert story.attention_gain({"gru": {"chrf": 20.0}, "gru-attn": {"chrf": 24.5}}) == (
        "Attention raises the GRU's chrF on these test sentences: 20.0 without, 24.5 with (+4.5).")
    assert story.attention_gain({"gru": {"chrf": 20.0}}) is None
