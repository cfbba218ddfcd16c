"""The int8 output layer: close to fp32, used by every decoding path, never saved, offered only where it passed."""
import json

import pytest
import torch

from engine.evaluation import int8_check
from engine.inference.translate import Translator
from tests.conftest import save_tiny_checkpoint, tiny_model

FAMILIES = ["transformer", "gru-attn", "hf-marian"]


def sources():
    src = torch.randint(4, 40, (3, 7), generator=torch.Generator().manual_seed(5))
    src[:, -1] = 2  # EOS
    src[2, 4:] = 0  # padding
    return src


@pytest.mark.parametrize("preset", FAMILIES)
def test_int8_logits_are_close_to_fp32_in_step_and_teacher_forced_paths(preset):
    model, quantized = tiny_model(preset, 40, seed=2).eval(), tiny_model(preset, 40, seed=2).eval()
    quantized.use_int8_output()
    src, tgt_in = sources(), torch.tensor([[1, 5, 6, 7]] * 3)
    with torch.inference_mode():
        full, full_q = model.decode(tgt_in, model.encode(src)), quantized.decode(tgt_in, quantized.encode(src))
        enc, enc_q = model.encode(src), quantized.encode(src)
        step, _ = model.step(tgt_in[:, 0], model.init_state(enc), enc)
        step_q, _ = quantized.step(tgt_in[:, 0], quantized.init_state(enc_q), enc_q)
    scale = full.abs().max()
    assert not torch.equal(full, full_q) and not torch.equal(step, step_q)  # the int8 layer is really used
    assert (full - full_q).abs().max() < 0.05 * scale
    assert (step - step_q).abs().max() < 0.05 * scale


@pytest.mark.parametrize("preset", FAMILIES)
def test_int8_changes_neither_parameters_nor_saved_names(preset):
    model, quantized = tiny_model(preset, 40), tiny_model(preset, 40)
    quantized.use_int8_output()
    assert quantized.num_parameters() == model.num_parameters()
    if preset != "hf-marian":  # transformers' lm_head is replaced (it is tied to the embedding, stored once)
        assert quantized.state_dict().keys() == model.state_dict().keys()


@pytest.mark.parametrize("preset", FAMILIES)
def test_translator_loads_a_checkpoint_with_the_int8_layer(tmp_path, tiny_tokenizer, preset):
    path = save_tiny_checkpoint(tmp_path / "t", preset, tiny_tokenizer)
    fp32, int8 = Translator.load(path), Translator.load(path, int8=True)
    assert not fp32.int8 and int8.int8
    src = torch.tensor([[5, 6, 7, 2]])
    with torch.inference_mode():
        logits = [t.model.step(torch.tensor([1]), t.model.init_state(t.model.encode(src)), t.model.encode(src))[0]
                  for t in (fp32, int8)]
    assert not torch.equal(*logits) and torch.allclose(*logits, atol=0.05 * logits[0].abs().max().item())
    for beam in (1, 3):
        assert isinstance(int8.translate(["the cat sat on the mat"], beam=beam)[0].text, str)


def test_drop_passes_only_below_the_limit():
    assert int8_check.drop({"chrf": 20.0, "bleu": 3.0}, {"chrf": 19.8, "bleu": 3.1}) == \
        {"chrf": 0.2, "bleu": -0.1, "passed": True}
    assert not int8_check.drop({"chrf": 20.0, "bleu": 3.0}, {"chrf": 19.6, "bleu": 3.0})["passed"]
    assert not int8_check.drop({"chrf": 20.0, "bleu": 3.0}, {"chrf": 20.0, "bleu": 2.7})["passed"]


def test_a_check_counts_only_for_the_weights_it_was_made_with(tmp_path, tiny_tokenizer):
    path = save_tiny_checkpoint(tmp_path / "t", "gru-attn", tiny_tokenizer)
    passed = {"chrf": 0.1, "bleu": 0.0, "passed": True}
    check = {"models": {"t": {"weights_sha256": int8_check.weights_digest(path),
                              "corpora": {"ding-en-de": passed, "bible-en-de": passed}}}}
    assert int8_check.passed_checkpoints(check, {"t": path}) == {"t"}
    check["models"]["t"]["corpora"]["bible-en-de"] = {**passed, "passed": False}
    assert int8_check.passed_checkpoints(check, {"t": path}) == set()
    check["models"]["t"]["corpora"]["bible-en-de"] = passed
    (path / "model.safetensors").write_bytes((path / "model.safetensors").read_bytes() + b" ")
    assert int8_check.passed_checkpoints(check, {"t": path}) == set()
    assert int8_check.passed_checkpoints(json.loads("{}"), {"t": path}) == set()


def test_an_update_keeps_only_rows_whose_weights_and_decoding_are_unchanged(tmp_path, tiny_tokenizer):
    same, changed = (save_tiny_checkpoint(tmp_path / n, "gru-attn", tiny_tokenizer) for n in ("same", "changed"))
    decoding = {"beam": 5, "length_penalty": 2.0}
    earlier = {"decoding": decoding, "models": {
        "same": {"weights_sha256": int8_check.weights_digest(same), "corpora": {}},
        "changed": {"weights_sha256": int8_check.weights_digest(changed), "corpora": {}},
        "gone": {"weights_sha256": "0" * 64, "corpora": {}}}}
    (changed / "model.safetensors").write_bytes((changed / "model.safetensors").read_bytes() + b" ")
    paths = {"same": same, "changed": changed, "gone": tmp_path / "gone"}
    assert list(int8_check.still_valid_rows(earlier, decoding, paths)) == ["same"]
    assert int8_check.still_valid_rows(earlier, {"beam": 1, "length_penalty": 1.0}, paths) == {}
    assert int8_check.still_valid_rows({"models": []}, decoding, paths) == {}
