import pytest
import torch

from engine.data.tokenizer import EOS_ID
from engine.inference.decoding import beam_search, greedy_decode
from tests.conftest import ALL_PRESETS, tiny_model

VOCAB = 40


def sources():
    g = torch.Generator().manual_seed(3)
    src = torch.randint(4, VOCAB, (4, 6), generator=g)
    src[:, -1] = EOS_ID
    src[1, 3:] = 0
    src[1, 2] = EOS_ID
    return src


@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_beam_size_one_equals_greedy(preset):
    model = tiny_model(preset, VOCAB)
    src = sources()
    assert beam_search(model, src, beam=1) == greedy_decode(model, src)


@pytest.mark.parametrize("preset", ["gru-attn", "transformer", "hf-marian"])
def test_beam_search_is_batched_consistently_and_never_worse_than_greedy(preset):
    model = tiny_model(preset, VOCAB, seed=4)
    src = sources()
    batched = beam_search(model, src, beam=4, length_penalty=0.0)
    one_by_one = [beam_search(model, src[i : i + 1], beam=4, length_penalty=0.0)[0] for i in range(len(src))]
    assert batched == one_by_one

    def log_prob(i, tokens):
        with torch.no_grad():
            enc = model.encode(src[i : i + 1])
            state, prev, total = model.init_state(enc), torch.tensor([1]), 0.0
            for tok in tokens + [EOS_ID]:
                logits, state = model.step(prev, state, enc)
                total += logits.log_softmax(-1)[0, tok].item()
                prev = torch.tensor([tok])
        return total

    greedy = greedy_decode(model, src)
    for i in range(len(src)):
        if len(greedy[i]) < 19 and len(batched[i]) < 19:  # both ended with EOS
            assert log_prob(i, batched[i]) >= log_prob(i, greedy[i]) - 1e-4


def test_output_length_is_limited_by_the_ratio():
    model = tiny_model("gru", VOCAB)
    src = sources()
    for out, n in zip(greedy_decode(model, src, max_len_ratio=0.5), (src != 0).sum(1).tolist()):
        assert len(out) <= int(0.5 * n + 10)


@pytest.mark.parametrize("preset", ["gru-attn", "transformer"])
def test_min_and_max_length_force_the_output_length(preset):
    model = tiny_model(preset, VOCAB)
    src = sources()
    assert [len(o) for o in greedy_decode(model, src, min_length=7, max_length=7)] == [7] * 4
    assert [len(o) for o in beam_search(model, src, 3, min_length=5, max_length=5)] == [5] * 4


def test_cached_output_matrix_follows_the_weights():
    """The transposed embedding cached for decoding is rebuilt after the weights change (training, loading)."""
    model = tiny_model("transformer", VOCAB)
    src, tgt = sources(), torch.tensor([[1, 5, 6]] * 4)
    with torch.no_grad():
        before = model(src, tgt)
    with torch.enable_grad():
        model(src, tgt).sum().backward()
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    with torch.no_grad():
        after = model(src, tgt)
    with torch.enable_grad():
        reference = model(src, tgt)  # the uncached path
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, reference)
