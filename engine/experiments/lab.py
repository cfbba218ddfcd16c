"""Small live experiments behind the seed claims: gradient flow through time, clipping, positional encodings,
and what extra threads buy each architecture."""
from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable

import torch

from engine.data.batching import collate, synthetic_batch
from engine.data.tokenizer import BOS_ID, EOS_ID, encode
from engine.evaluation.metrics import sequence_loss
from engine.experiments.bench import num_threads, training_throughput
from engine.experiments.toy import ToyModel, ToyRace, ToyTask
from engine.inference.decoding import greedy_decode
from engine.inference.translate import clip_source
from engine.models import build_model, model_class, model_spec
from engine.paths import RESULTS_DIR

AFTER_TRAINING_FILE = RESULTS_DIR / "gradients-after-training.json"  # `python -m engine gradients`
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
    return source_gradient_norms(model, src, tgt_in, tgt, target_position=-1)


def source_gradient_norms(model, src, tgt_in, tgt, target_position: int) -> list[float]:
    """Norm of d(loss on one target position)/d(source embedding) at every source position, batch-averaged.
    src [B, S], tgt_in and tgt [B, T]. Only the embedding's gradient is computed: the weights' .grad stay untouched,
    so a model other sessions are translating with can be probed."""
    captured = []
    thread = threading.get_ident()

    def keep_source_embedding(module, inputs, output):
        if not captured and threading.get_ident() == thread:  # the first call embeds the source; ignore other threads
            captured.append(output)

    handle = model.input_embedding().register_forward_hook(keep_source_embedding)
    try:
        with torch.enable_grad():
            logits = model(src, tgt_in)  # [B, T, vocab]
            picked = slice(target_position, target_position + 1 if target_position != -1 else None)
            loss = sequence_loss(logits[:, picked], tgt[:, picked], reduction="mean")
            (gradient,) = torch.autograd.grad(loss, captured[0])  # [B, S, dim]
    finally:
        handle.remove()
    return gradient.norm(dim=-1).mean(0).tolist()  # [S]


MAX_INFLUENCE_OUTPUTS = 60  # one backward pass per output token: longer outputs are cut


def output_influence(translator, sentence: str) -> dict:
    """The model's greedy translation (at most MAX_INFLUENCE_OUTPUTS tokens), and for each output token how strongly
    each source token sways it: the norm of d log p(output token) / d source embedding, one row per output token
    (and the end of sentence, when it was written within the limit)."""
    model, tokenizer = translator.model, translator.tokenizer
    ids = clip_source(encode(tokenizer, [sentence])[0])
    src = torch.tensor([ids], device=translator.device)  # [1, S]
    written = greedy_decode(model, src)[0]
    output = written[:MAX_INFLUENCE_OUTPUTS]
    ended = len(output) == len(written)  # the end-of-sentence token gets a row only if it was written here
    tgt_in = torch.tensor([[BOS_ID] + output], device=translator.device)  # [1, T]
    tgt = torch.tensor([output + [EOS_ID]], device=translator.device)  # [1, T]
    rows = [source_gradient_norms(model, src, tgt_in, tgt, target_position=t) for t in range(len(output) + ended)]
    return {"source_tokens": tokenizer.convert_ids_to_tokens(ids),
            "output_tokens": tokenizer.convert_ids_to_tokens(output) + ["</s>"] * ended, "influence": rows}


def influence_by_distance(translator, sentences: list[str], longest: int = 30) -> list[float]:
    """Average share of an output token's influence that falls on a source token `d` positions away (d = |source
    position - output position|, 0 to `longest`), over the sentences: how far each architecture reaches."""
    totals, counts = [0.0] * (longest + 1), [0] * (longest + 1)
    for sentence in sentences:
        result = output_influence(translator, sentence)
        for t, row in enumerate(result["influence"]):
            whole = sum(row) or 1.0
            for s, value in enumerate(row):
                if abs(s - t) <= longest:
                    totals[abs(s - t)] += value / whole
                    counts[abs(s - t)] += 1
    return [total / count if count else float("nan") for total, count in zip(totals, counts)]


MEMORY_SETUPS = (ToyModel("rnn-tanh", attention=False), ToyModel("lstm", attention=False),
                 ToyModel("lstm", attention=False, forget_bias=1.0), ToyModel("gru", attention=False))


def gradient_after_training(length: int = 30, steps: int = 600, seed: int = 0,
                            setups: tuple[ToyModel, ...] = MEMORY_SETUPS) -> dict[str, dict]:
    """Train each model on the memory task (write the first two of `length` letters), then measure how much of
    the first output letter's error reaches each input position, on inputs of exactly `length` letters.

    {label: {"gradient": [norm per source position], "accuracy": held-out sequences right}}. A model that has
    learned to remember keeps a path back to position 0; one whose gradient vanished does not.
    """
    task = ToyTask("remember", length, 8)
    race = ToyRace(task, list(setups), seed=seed, eval_every_seconds=math.inf)
    race.run(seconds=math.inf, max_steps=steps)
    rng = random.Random(f"probe-{seed}")
    pairs = [p for p in (task.example(rng) for _ in range(5000)) if len(p[0]) == length + 1][:32]
    src, tgt_in, tgt = collate([s for s, _ in pairs], [t for _, t in pairs])  # [32, length + 1], [32, 3], [32, 3]
    result = {}
    for c in race.contestants:
        c.model.eval()
        result[c.setup.label] = {"gradient": source_gradient_norms(c.model, src, tgt_in, tgt, target_position=0),
                                 "accuracy": c.history[-1]["accuracy"], "steps": c.steps}
    return result


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


def word_order_check(translator, text: str, reordered: str | None = None, seed: int = 1) -> dict:
    """Does the model see word order? `text` against `reordered`, the same words in another order (by default its
    words shuffled at random): the translations of both, and the largest gap between the encoder states of the
    reordered subwords and the original's states put in that order ("gap": ~0 = a bag of words; None when the two do
    not split into the same subwords)."""
    reordered = shuffle_words(text, seed) if reordered is None else reordered
    ids, other = encode(translator.tokenizer, [text, reordered])
    order = matching_order(ids, other)
    gap = None if order is None else permutation_gap(translator.model, ids, order)
    original, shuffled = translator.translate([text, reordered])
    return {"reordered": reordered, "gap": gap, "translation": original.text,
            "shuffled_translation": shuffled.text}


def matching_order(ids: list[int], other: list[int]) -> list[int] | None:
    """Positions in `ids` that spell `other` (other == [ids[i] for i in order]), each used once; None when `other`
    is not a reordering of `ids`."""
    unused: dict[int, list[int]] = {}
    for position, token in enumerate(ids):
        unused.setdefault(token, []).append(position)
    try:
        order = [unused[token].pop(0) for token in other]
    except (KeyError, IndexError):
        return None
    return order if len(order) == len(ids) else None


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
