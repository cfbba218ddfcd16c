"""The Lab's live probes (engine/lab.py) and the decode race's timelines (engine/replay.py), on tiny models."""
import pytest

from engine import lab, replay
from engine.translate import Translator
from tests.conftest import tiny_model

SENTENCE = "The weather is nice today."


@pytest.mark.parametrize("preset", ["gru-attn", "gru", "transformer", "hf-marian"])
def test_influence_has_one_row_per_output_word_and_leaves_the_weights_alone(preset, tiny_tokenizer):
    translator = Translator(tiny_model(preset, len(tiny_tokenizer)), tiny_tokenizer)
    result = lab.output_influence(translator, SENTENCE)
    assert len(result["influence"]) == len(result["output_tokens"]) and result["output_tokens"][-1] == "</s>"
    assert all(len(row) == len(result["source_tokens"]) for row in result["influence"])
    assert all(value >= 0 for row in result["influence"] for value in row) and any(result["influence"][0])
    assert all(p.grad is None for p in translator.model.parameters())  # safe on a model other sessions share
    curve = lab.influence_by_distance(translator, [SENTENCE, "Good morning."], longest=5)
    assert len(curve) == 6 and 0 < curve[0] <= 1


@pytest.mark.parametrize("preset", ["gru-attn", "transformer"])
def test_a_timeline_writes_what_greedy_decoding_writes_on_a_clock_that_only_moves_forward(preset, tiny_tokenizer):
    translator = Translator(tiny_model(preset, len(tiny_tokenizer)), tiny_tokenizer)
    timeline = replay.decode_timeline(translator, SENTENCE)
    assert timeline.output_tokens == translator.translate([SENTENCE])[0].tokens
    assert timeline.read_at == sorted(timeline.read_at) and timeline.written_at == sorted(timeline.written_at)
    assert timeline.read_at[-1] <= timeline.written_at[0] <= timeline.total_ms
    if preset == "transformer":  # every word read at once, in as many steps as encoder layers
        assert len(set(timeline.read_at)) == 1 and timeline.encoder_steps == 2 and not timeline.reads_in_order
    else:  # one word after another
        assert len(set(timeline.read_at)) == len(timeline.source_tokens) and timeline.reads_in_order
        assert timeline.encoder_steps == len(timeline.source_tokens)  # one layer
    assert replay.steps_done(timeline, 0.0) == 0
    assert replay.steps_done(timeline, timeline.total_ms) == timeline.encoder_steps + len(timeline.output_tokens)
