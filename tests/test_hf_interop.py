"""Hugging Face interop: our Transformer exported to transformers gives the same logits and translations;
any local transformers seq2seq directory translates offline through the same interface, in the engine and
on the Translate page."""
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.batching import collate
from engine.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, encode
from engine.inference.hf_interop import HFTranslator, export_transformer, load_translator
from engine.inference.translate import Translator
from engine.models import build_model, model_spec
from engine.models.checkpoint import CheckpointError
from tests.conftest import save_tiny_checkpoint

SENTENCES = ["The house is small.", "I enjoyed my supper very much!", "Where is the station?"]


def save_engine(tmp_path: Path, preset: str, tokenizer, model=None) -> Path:
    return save_tiny_checkpoint(tmp_path / preset, preset, tokenizer, model)


def memorised(preset: str, tokenizer, pairs, steps: int = 200, **overrides):
    """A tiny model that has learned `pairs` by heart, so that it translates them with clear margins and ends its
    sentences. On unseen text a tiny model loops to the length limit, where generate() and our beam search
    legitimately cut hypotheses differently and near-ties fall either way with the CPU's float sums."""
    torch.manual_seed(0)
    model = build_model(model_spec(preset, len(tokenizer), "tiny", **overrides)).train()
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    src, tgt_in, tgt_out = collate(encode(tokenizer, sources), encode(tokenizer, targets))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(src, tgt_in).transpose(1, 2), tgt_out, ignore_index=PAD_ID)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize(("preset", "norm_first", "twin"), [
    ("transformer", False, "MarianMTModel"),  # the shipped layout
    ("transformer", True, "PegasusForConditionalGeneration"),
    ("transformer-learned", True, "PegasusForConditionalGeneration"),
    ("transformer-nopos", True, "PegasusForConditionalGeneration")])
def test_exported_transformer_matches_the_engine(tmp_path, tiny_tokenizer, tiny_pairs, preset, norm_first, twin):
    from transformers import AutoModelForSeq2SeqLM

    learned = tiny_pairs[:8]
    sources = [source for source, _ in learned]
    model = memorised(preset, tiny_tokenizer, learned, norm_first=norm_first)
    ours = Translator.load(save_engine(tmp_path, preset, tiny_tokenizer, model))
    out = export_transformer(tmp_path / preset, tmp_path / "hf")
    hf = AutoModelForSeq2SeqLM.from_pretrained(out, local_files_only=True).eval()
    assert type(hf).__name__ == twin
    src = torch.tensor([[5, 6, 7, 8, EOS_ID], [9, 10, EOS_ID, PAD_ID, PAD_ID]])
    tgt = torch.tensor([[BOS_ID, 11, 12], [BOS_ID, 13, 14]])
    with torch.no_grad():
        theirs_logits = hf(input_ids=src, attention_mask=(src != PAD_ID).long(), decoder_input_ids=tgt).logits
        torch.testing.assert_close(theirs_logits, ours.model(src, tgt), atol=1e-5, rtol=1e-5)
    theirs = HFTranslator.load(out)
    for beam in (1, 3):
        a = ours.translate(sources, beam=beam, with_attention=True)
        b = theirs.translate(sources, beam=beam, with_attention=True)
        assert [t.tokens for t in a] == [t.tokens for t in b]
        assert [t.source_tokens for t in a] == [t.source_tokens for t in b]
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.attention, y.attention, atol=1e-4)


def test_models_without_a_transformers_twin_are_refused_with_a_reason(tmp_path, tiny_tokenizer):
    with pytest.raises(CheckpointError, match="recurrent models have no transformers architecture"):
        export_transformer(save_engine(tmp_path, "gru-attn", tiny_tokenizer), tmp_path / "out")
    post_norm_bag_of_words = build_model(model_spec("transformer-nopos", len(tiny_tokenizer), "tiny", norm_first=False))
    with pytest.raises(CheckpointError, match="post-norm Transformer with no positions has no transformers twin"):
        export_transformer(save_engine(tmp_path, "transformer-nopos", tiny_tokenizer, post_norm_bag_of_words),
                           tmp_path / "out")


@pytest.fixture
def tiny_marian(tmp_path, tiny_tokenizer) -> Path:
    """A randomly initialised MarianMT saved with save_pretrained, beside a fast tokenizer."""
    from transformers import MarianConfig, MarianMTModel

    torch.manual_seed(0)
    config = MarianConfig(vocab_size=len(tiny_tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                          max_position_embeddings=256, pad_token_id=PAD_ID, eos_token_id=EOS_ID,
                          decoder_start_token_id=BOS_ID, forced_eos_token_id=None)
    path = tmp_path / "hf-models" / "tiny-marian"
    MarianMTModel(config).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


def test_a_local_marian_translates_offline_with_attention(tiny_marian, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    translator = load_translator(tiny_marian)
    assert isinstance(translator, HFTranslator)
    results = translator.translate(SENTENCES, beam=2, with_attention=True)
    assert len(results) == 3
    for r in results:
        assert isinstance(r.text, str) and r.ms > 0
        layers, heads, rows, cols = r.attention.shape
        assert (layers, heads, rows, cols) == (1, 2, len(r.tokens) + 1, len(r.source_tokens))
        np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-4)
    assert translator.translate(["word " * 500])[0].truncated


def test_a_transformers_directory_with_only_pickled_weights_is_refused(tiny_marian, tmp_path):
    marker = tmp_path / "unpickled"

    class PlantsAFile:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (tiny_marian / "model.safetensors").unlink()
    (tiny_marian / "pytorch_model.bin").write_bytes(pickle.dumps(PlantsAFile()))
    with pytest.raises(CheckpointError, match="pickled weights"):
        load_translator(tiny_marian)
    assert not marker.exists()


def test_translate_page_shows_a_local_hugging_face_model(tiny_marian, monkeypatch):
    from tests.helpers import answered_models, open_page, plotly_titles, translate

    monkeypatch.setenv("SEQ2SEQ_HF_MODELS", str(tiny_marian.parent))
    at = open_page("views/translate.py")
    assert "tiny-marian" in at.multiselect[0].options
    at.multiselect[0].set_value(["gru-attn", "tiny-marian"])
    translate(at, "The house is small.")
    assert answered_models(at) == ["gru-attn", "tiny-marian"]  # a Hugging Face model is a Transformer
    titles = plotly_titles(at)  # beside the recurrent model's heatmap: Marian returns its attention
    assert titles[0] == "GRU + attention: cross-attention (its only attention)"
    assert titles[1].startswith("tiny-marian: cross-attention")


@pytest.fixture
def hub_cache(tiny_marian, tmp_path, monkeypatch) -> Path:
    """The tiny Marian as a download of "test-org/tiny-marian" in a Hugging Face cache folder (the layout
    huggingface_hub writes: models--owner--name/snapshots/<commit>/, refs/main), with the Hub out of reach."""
    cache = tmp_path / "hf-cache"
    repo = cache / "models--test-org--tiny-marian"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots").mkdir()
    tiny_marian.rename(repo / "snapshots" / commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return repo / "snapshots" / commit


def test_a_hub_model_loads_by_its_id_from_the_cache_and_failures_say_why(hub_cache):
    from engine.inference.hf_interop import is_hub_id

    assert is_hub_id("Helsinki-NLP/opus-mt-en-de") and is_hub_id("test-org/tiny-marian")
    assert not is_hub_id("checkpoints/gru") and not is_hub_id("../etc") and not is_hub_id("a/b/c")  # a path here
    translator = load_translator("test-org/tiny-marian")
    assert isinstance(translator, HFTranslator) and translator.name == "test-org/tiny-marian"
    assert isinstance(translator.translate(SENTENCES[:1])[0].text, str)
    with pytest.raises(CheckpointError, match="not in this machine's Hugging Face cache"):
        load_translator("test-org/not-downloaded")
    (hub_cache / "model.safetensors").unlink()
    torch.save({}, hub_cache / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="no safetensors weights; only pickled weights"):
        load_translator("test-org/tiny-marian")


def test_translate_page_lists_a_hub_model_by_its_id(hub_cache, monkeypatch):
    from tests.helpers import answered_models, open_page, translate

    monkeypatch.setenv("SEQ2SEQ_HF_MODELS", "test-org/tiny-marian")
    at = open_page("views/translate.py")
    assert "test-org/tiny-marian" in at.multiselect[0].options
    at.multiselect[0].set_value(["gru-attn", "test-org/tiny-marian"])
    translate(at, "The house is small.")
    assert answered_models(at) == ["gru-attn", "test-org/tiny-marian"]
    assert not at.error
