import numpy as np
import pytest

from engine.inference.translate import MAX_SOURCE_TOKENS, Translator
from tests.conftest import save_tiny_checkpoint


@pytest.fixture(params=["rnn-tanh-attn", "gru", "transformer", "hf-marian"])
def translator(request, tiny_tokenizer, tmp_path):
    preset = request.param
    return Translator.load(save_tiny_checkpoint(tmp_path / preset, preset, tiny_tokenizer))


def test_translate_returns_text_tokens_latency_and_attention(translator):
    results = translator.translate(["The house is small.", "I enjoyed my supper!"], beam=3, with_attention=True)
    assert len(results) == 2
    for r in results:
        assert isinstance(r.text, str) and r.ms > 0 and r.source_tokens[-1] == "</s>"
        if translator.has_attention:
            layers, heads, rows, cols = r.attention.shape
            assert (rows, cols) == (len(r.tokens) + 1, len(r.source_tokens))
            np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-4)
        else:
            assert r.attention is None


def test_batched_translation_equals_one_by_one(translator):
    sentences = ["The house is small.", "Yes.", "He took French leave and never came back to the town."]
    batched = [t.text for t in translator.translate(sentences, batch_size=8)]
    assert batched == [translator.translate([s])[0].text for s in sentences]


def test_overlong_input_is_truncated_with_a_flag(translator):
    result = translator.translate(["word " * 1000])[0]
    assert result.truncated and len(result.source_tokens) == MAX_SOURCE_TOKENS
    assert not translator.translate(["short one."])[0].truncated


def test_empty_and_strange_input_translate_without_errors(translator):
    for text in ["", "   ", "😀😀", "<script>alert(1)</script>", "\x00\u200b\u202e"]:
        assert isinstance(translator.translate([text])[0].text, str)
