import pytest
import torch

from engine.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from engine.models import PRESETS, build_model, model_spec
from engine.models.transformer import subsequent_mask
from tests.conftest import ALL_PRESETS, tiny_model

VOCAB = 60


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, VOCAB, (3, 7), generator=g)
    src[:, -1] = EOS_ID
    tgt = torch.randint(4, VOCAB, (3, 6), generator=g)
    tgt[:, 0] = BOS_ID
    return src, tgt


@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_padding_never_changes_outputs(preset):
    model = tiny_model(preset, VOCAB)
    src, tgt = batch()
    padded_src = torch.cat([src, torch.full((3, 4), PAD_ID)], 1)
    with torch.no_grad():
        plain, padded = model(src, tgt), model(padded_src, tgt)
        # a short sentence batched with a long one gives the same logits as alone
        short = src[:1, 3:]
        alone = model(short, tgt[:1])
        mixed = model(torch.cat([torch.cat([short, torch.full((1, 3), PAD_ID)], 1), src[1:2]]), tgt[:2])[:1]
    torch.testing.assert_close(plain, padded, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(alone, mixed, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_decoder_cannot_see_the_future(preset):
    model = tiny_model(preset, VOCAB)
    src, tgt = batch()
    changed = tgt.clone()
    changed[:, 4:] = (changed[:, 4:] + 7) % (VOCAB - 4) + 4
    with torch.no_grad():
        a, b = model(src, tgt), model(src, changed)
    torch.testing.assert_close(a[:, :4], b[:, :4], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_subsequent_mask_is_lower_triangular():
    mask = subsequent_mask(4)
    assert mask.tolist() == [[True, False, False, False], [True, True, False, False],
                             [True, True, True, False], [True, True, True, True]]


def step_by_step(model, src, tgt):
    """Logits [B, T, V] of the incremental decoder, fed one target position at a time."""
    enc = model.encode(src)
    state, steps = model.init_state(enc), []
    for t in range(tgt.shape[1]):
        logits, state = model.step(tgt[:, t], state, enc)
        steps.append(logits)
    return torch.stack(steps, 1)


@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_incremental_decoding_equals_full_recomputation(preset):
    model = tiny_model(preset, VOCAB)
    src, tgt = batch(1)
    with torch.no_grad():
        torch.testing.assert_close(step_by_step(model, src, tgt), model(src, tgt), atol=1e-5, rtol=1e-4)


def test_pre_norm_transformers_decode_as_they_train_and_differ_from_post_norm_only_by_final_norms():
    torch.manual_seed(0)
    post_norm = build_model(model_spec("transformer", VOCAB, "tiny", norm_first=False)).eval()  # the default
    torch.manual_seed(0)
    pre_norm = build_model(model_spec("transformer", VOCAB, "tiny", norm_first=True)).eval()
    src, tgt = batch(1)
    with torch.no_grad():
        full = pre_norm(src, tgt)
        torch.testing.assert_close(step_by_step(pre_norm, src, tgt), full, atol=1e-5, rtol=1e-4)
        padded = pre_norm(torch.cat([src, torch.full((3, 4), PAD_ID)], 1), tgt)
        torch.testing.assert_close(padded, full, atol=1e-5, rtol=1e-4)
        assert not torch.allclose(full, post_norm(src, tgt))
    # the same layer weights, placed differently; only pre-norm needs a last norm after each stack
    final_norms = {f"{side}_norm.{p}" for side in ("encoder", "decoder") for p in ("weight", "bias")}
    assert set(pre_norm.state_dict()) - set(post_norm.state_dict()) == final_norms


def test_a_transformer_spec_written_before_norm_first_existed_loads_as_pre_norm():
    spec = model_spec("transformer", VOCAB, "tiny")
    del spec["config"]["norm_first"]
    assert build_model(spec).cfg.norm_first is True
    assert build_model(model_spec("transformer", VOCAB)).cfg.norm_first is False  # today's recipe

@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_every_family_overfits_a_tiny_batch(preset):
    model = tiny_model(preset, VOCAB).train()
    src, tgt = batch(2)
    tgt_out = torch.cat([tgt[:, 1:], torch.full((3, 1), EOS_ID)], 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(src, tgt).transpose(1, 2), tgt_out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    with torch.no_grad():
        assert torch.equal(model.eval()(src, tgt).argmax(-1), tgt_out)


@pytest.mark.parametrize("preset", [p for p in ALL_PRESETS if PRESETS[p][1].get("attention") != "none"])
def test_cross_attention_rows_are_distributions_over_real_source_tokens(preset):
    model = tiny_model(preset, VOCAB)
    src, tgt = batch()
    src[0, 5:] = PAD_ID
    with torch.no_grad():
        weights = model.cross_attention(src, tgt)
    assert weights.shape[2:] == (3, 6, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-5, rtol=1e-5)
    assert weights[:, :, 0, :, 5:].abs().max() == 0


def test_transformer_without_positions_is_a_bag_of_words():
    src, _ = batch()
    perm = torch.tensor([2, 0, 5, 1, 3, 4, 6])
    for positional, equivariant in (("none", True), ("sinusoidal", False)):
        torch.manual_seed(0)
        model = build_model(model_spec("transformer", VOCAB, "tiny", positional=positional)).eval()
        with torch.no_grad():
            memory = model.encode(src)["memory"]
            shuffled = model.encode(src[:, perm])["memory"]
        assert torch.allclose(memory[:, perm], shuffled, atol=1e-5) == equivariant


def test_presets_report_parameter_counts_and_reject_bad_configs():
    assert build_model(model_spec("gru-attn", 4000)).num_parameters() > 1_000_000
    with pytest.raises(ValueError, match="unknown preset"):
        model_spec("nope", 10)
    with pytest.raises(ValueError, match="cell must be"):
        model_spec("gru", 10, cell="banana")
