"""The Lab's live probes (engine/experiments/lab.py) and the decode race's timelines (engine/inference/replay.py),
on tiny models."""
import pytest

from engine.experiments import lab
from engine.inference import replay
from engine.inference.translate import Translator
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
    assert timeline.read_step[-1] == timeline.encoder_steps  # the step clock: reading ends when the encoder does
    assert replay.steps_done(timeline, 0.0) == 0
    assert replay.steps_done(timeline, timeline.total_ms) == timeline.total_steps == (
        timeline.encoder_steps + len(timeline.output_tokens) * timeline.decoder_layers)


def test_saliency_matches_a_finite_difference_gradient(tiny_tokenizer):
    import torch

    from engine.data.batching import pad_batch
    from engine.data.tokenizer import encode

    model = tiny_model("gru-attn", len(tiny_tokenizer)).double()
    src = pad_batch(encode(tiny_tokenizer, [SENTENCE]))  # [1, S]
    tgt_in, tgt = torch.tensor([[1, 40, 41]]), torch.tensor([[40, 41, 2]])  # [1, 3]
    norms = lab.source_gradient_norms(model, src, tgt_in, tgt, target_position=1)
    position, eps, dim = 2, 1e-6, model.input_embedding().embedding_dim
    delta = torch.zeros(1, src.shape[1], dim, dtype=torch.float64)

    def shift_source(module, inputs, output):  # the first call embeds the source
        if not shifted:
            shifted.append(True)
            return output + delta

    handle = model.input_embedding().register_forward_hook(shift_source)
    gradient = []
    with torch.no_grad():
        for k in range(dim):
            values = []
            for sign in (1, -1):
                shifted = []
                delta.zero_()
                delta[0, position, k] = sign * eps
                logits = model(src, tgt_in)[0, 1]  # [V], in float64 (the loss itself casts to float32)
                values.append(-logits.log_softmax(-1)[tgt[0, 1]].item())
            gradient.append((values[0] - values[1]) / (2 * eps))
    handle.remove()
    assert torch.tensor(gradient).norm().item() == pytest.approx(norms[position], rel=1e-4)


def test_the_replays_reading_time_is_measured_so_it_grows_with_the_sentence(tiny_tokenizer):
    translator = Translator(tiny_model("gru-attn", len(tiny_tokenizer)), tiny_tokenizer)
    short = replay.decode_timeline(translator, "Good morning.")
    long = replay.decode_timeline(translator, " ".join(["the weather is nice today"] * 30))
    assert len(long.source_tokens) > 20 * len(short.source_tokens)
    assert long.read_at[-1] > 3 * short.read_at[-1]  # a recurrent encoder's time grows with every word


def test_a_very_long_input_is_cut_before_any_probe_runs(tiny_tokenizer):
    translator = Translator(tiny_model("gru-attn", len(tiny_tokenizer)), tiny_tokenizer)
    text = " ".join(["the weather is nice today"] * 200)
    result = lab.output_influence(translator, text)
    assert len(result["source_tokens"]) == 200 and result["source_tokens"][-1] == "</s>"
    assert len(result["influence"]) <= lab.MAX_INFLUENCE_OUTPUTS + 1
    assert replay.decode_timeline(translator, text).source_tokens[-1] == "</s>"


def test_a_transformer_without_positions_sees_a_swap_of_roles_as_the_same_bag_of_words(tiny_tokenizer):
    checks = {preset: lab.word_order_check(Translator(tiny_model(preset, len(tiny_tokenizer)), tiny_tokenizer),
                                           "The dog bites the man.", "The man bites the dog.")
              for preset in ("transformer", "transformer-nopos")}
    assert checks["transformer-nopos"]["gap"] < 1e-5 < checks["transformer"]["gap"]
    assert checks["transformer-nopos"]["translation"] == checks["transformer-nopos"]["shuffled_translation"]
    assert checks["transformer"]["reordered"] == "The man bites the dog."
    assert lab.word_order_check(Translator(tiny_model("transformer", len(tiny_tokenizer)), tiny_tokenizer),
                                "The dog bites the man.", "A cat sleeps.")["gap"] is None  # not the same words
    assert lab.matching_order([5, 6, 5, 2], [6, 5, 5, 2]) == [1, 0, 2, 3]
    assert lab.matching_order([5, 6, 2], [6, 6, 2]) is None and lab.matching_order([5, 2], [2]) is None
