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


def test_machines_side_by_side_reads_each_file_and_leaves_what_it_lacks_empty():
    gpu = {**BENCH, "machine": {**BENCH["machine"], "cpu": "GPU host"},
           "ratios": {"decode_greedy_b1_24_transformer_over_generate": 0.3}}
    cpu, gpu_row = story.machines_side_by_side({"bench-cpu.json": BENCH, "bench-gpu.json": gpu})
    assert cpu["file"] == "bench-cpu.json" and cpu["machine"].startswith("Test CPU")
    assert cpu["GRU trains, 32 tokens (tokens/s)"] == 6000 and cpu["Transformer trains, 256 tokens (tokens/s)"] is None
    assert cpu["ours ÷ generate, greedy"] is None and gpu_row["ours ÷ generate, greedy"] == 0.3
    assert gpu_row["machine"].startswith("GPU host")


def long(chrf):
    return {"chrf": 30.0, "long_sentences": {"min_words": 30, "sentences": 293, "chrf": chrf}}


RECURRENT = {"transformer": False, "gru-attn": True, "lstm-attn": True, "hf-marian": False, "gru": True}


def test_the_long_sentence_verdict_says_who_wins_either_way():
    won = story.long_sentence_verdict({"transformer": long(25.0), "gru-attn": long(22.0), "lstm-attn": long(20.0)},
                                      RECURRENT)
    assert won.startswith("On the 293 test sentences of 30 words or more, the transformer beats every recurrent")
    lost = story.long_sentence_verdict({"transformer": long(18.0), "gru-attn": long(22.0), "hf-marian": long(40.0)},
                                       RECURRENT)
    assert "does **not** beat" in lost and "22.0 for gru-attn" in lost  # hf-marian is no recurrent model
    assert story.long_sentence_verdict({"gru": long(10.0)}, RECURRENT) is None


def test_attention_gain_compares_the_two_grus():
    assert story.attention_gain({"gru": {"chrf": 20.0}, "gru-attn": {"chrf": 24.5}}) == (
        "Attention raises the GRU's chrF on these test sentences: 20.0 without, 24.5 with (+4.5).")
    assert story.attention_gain({"gru": {"chrf": 20.0}}) is None
