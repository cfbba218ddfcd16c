"""Small live experiments behind the seed claims: gradient flow through time, clipping, positional encodings,
and what extra threads buy each architecture."""
from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch

from .batching import synthetic_batch
from .bench import num_threads, training_throughput
from .evaluation import sequence_loss
from .models import build_model, model_class, model_spec
from .tokenizer import encode

GRADIENT_FLOW_PRESETS = ("rnn-tanh", "rnn-relu-attn", "lstm", "gru", "transformer")  # as probes: no attention


def _recurrent_weights(model):
    return [p for name, p in model.named_parameters() if "weight_hh" in name]


def gradient_by_source_position(preset: str, length: int = 40, vocab: int = 200, seed: int = 0, hidden: int = 64,
                                init: str = "orthogonal") -> list[float]:
    """Norm of d(loss on the LAST target token)/d(source embedding at each position), for a freshly initialised model.

    The encoder reads left to right (unidirectional), so a gradient reaching position 0 has crossed the whole
    chain. Vanishing gradients show as norms shrinking towards position 0. `init="default"` replaces our
    orthogonal recurrent weights with PyTorch's default uniform(-1/sqrt(hidden), 1/sqrt(hidden)).
    """
    torch.manual_seed(seed)
    model = build_model(model_spec(preset, vocab, **model_class(preset).probe_overrides(hidden))).eval()
    if init == "default":
        with torch.no_grad():
            for weight in _recurrent_weights(model):
                weight.uniform_(-hidden ** -0.5, hidden ** -0.5)
    src, tgt_in, tgt = synthetic_batch(8, length, vocab, seed, target_length=5)  # [8, length], [8, 5], [8, 5]
    captured = []

    def keep_source_embedding(module, inputs, output):
        if not captured:  # the first call embeds the source; later ones the target
            output.retain_grad()
            captured.append(output)

    handle = model.embed.register_forward_hook(keep_source_embedding)
    try:
        logits = model(src, tgt_in)  # [8, 5, vocab]
        sequence_loss(logits[:, -1:], tgt[:, -1:], reduction="mean").backward()  # the last target token
    finally:
        handle.remove()
    return captured[0].grad.norm(dim=-1).mean(0).tolist()


def clipping_run(clip_norm: float, steps: int = 60, lr: float = 0.1, seed: int = 0, length: int = 30,
                 weight_scale: float = 2.0) -> list[dict]:
    """Train a tiny ReLU RNN whose recurrent weights were scaled x2 (an exploding start), with or without
    clipping the gradient norm: loss and pre-clip gradient norm per step. Stops early if they become inf/NaN."""
    torch.manual_seed(seed)
    vocab = 50
    model = build_model(model_spec("rnn-relu-attn", vocab, "tiny", attention="none", bidirectional=False)).train()
    with torch.no_grad():
        for weight in _recurrent_weights(model):
            weight.mul_(weight_scale)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    src, tgt_in, tgt = synthetic_batch(16, length, vocab, seed, eos=False)
    history = []
    for step in range(1, steps + 1):
        loss = sequence_loss(model(src, tgt_in), tgt, reduction="mean")
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm if clip_norm > 0 else math.inf).item()
        if not math.isfinite(loss.item()) or not math.isfinite(norm):
            break
        history.append({"step": step, "loss": loss.item(), "grad_norm": norm})
        optimizer.step()
    return history


@torch.inference_mode()
def permutation_gap(model, src_ids: list[int], permutation: list[int]) -> float:
    """Largest difference between encoder states of a shuffled sentence and the shuffled states of the original.

    ~0 means the encoder cannot tell word order apart (a bag of words).
    """
    src = torch.tensor([src_ids])
    memory = model.encode(src)["memory"][0]
    shuffled = model.encode(src[:, permutation])["memory"][0]
    return (memory[permutation] - shuffled).abs().max().item()


def shuffle_words(text: str, seed: int = 1) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def word_order_check(translator, text: str, seed: int = 1) -> dict:
    """Does the encoder see word order? The encoder-state gap for the sentence's subwords shuffled (EOS kept last),
    and the translations of the sentence and of its words shuffled."""
    ids = encode(translator.tokenizer, [text])[0]
    order = list(range(len(ids) - 1))
    random.Random(seed).shuffle(order)
    gap = permutation_gap(translator.model, ids, order + [len(ids) - 1])
    original, shuffled = translator.translate([text, shuffle_words(text, seed)])
    return {"gap": gap, "translation": original.text, "shuffled_translation": shuffled.text}


def step_times(presets: tuple[str, ...], lengths: tuple[int, ...], threads: list[int], batch: int = 16,
               on_progress: Callable[[float, str], None] = lambda fraction, label: None) -> list[dict]:
    """Wall time of one training step per preset, sentence length and thread count (best of 2)."""
    jobs = [(p, n, t) for p in presets for n in lengths for t in threads]
    rows = []
    for i, (preset, length, count) in enumerate(jobs):
        on_progress(i / len(jobs), f"{preset}, length {length}, {count} thread(s)")
        with num_threads(count):
            row = training_throughput(preset, length, batch=batch, repeats=2)
        rows.append({**row, "threads": count, "ms_per_step": 1000 * row["seconds"]})
    on_progress(1.0, "done")
    return rows
