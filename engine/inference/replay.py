"""The decode race: when did each model read each source word and write each output word, on two clocks.

The measured clock: a recurrent encoder reads one word after another (its measured encoder time is spread evenly
over the words); a Transformer's encoder reads every word at once. Both decoders then write one word per step: every
step is timed. The step clock counts steps that must wait for the one before: a recurrent encoder takes one per
token and layer, a Transformer's one per layer for all tokens; writing a word takes one per decoder layer for both.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from engine.data.batching import pad_batch
from engine.data.tokenizer import BOS_ID, EOS_ID, encode
from engine.inference.decoding import NEVER_OUTPUT, max_lengths
from engine.inference.translate import clip_source


@dataclass
class Timeline:
    """One model's decode of one sentence on a millisecond clock that starts when it starts reading."""
    source_tokens: list[str]
    read_at: list[float]  # ms at which each source token has been read
    output_tokens: list[str]  # what it wrote, end-of-sentence excluded
    written_at: list[float]  # ms at which each output token was written
    encoder_steps: int  # steps that had to run one after another to read the sentence
    reads_in_order: bool  # True: one word after another (recurrent); False: all at once
    encoder_layers: int
    decoder_layers: int

    @property
    def read_step(self) -> list[int]:
        """The step (one tick per step that waits for the previous one) by which each source token has been read."""
        n = len(self.source_tokens)
        if self.reads_in_order:
            return [(i + 1) * self.encoder_layers for i in range(n)]  # each layer walks the tokens in turn
        return [self.encoder_layers] * n  # each layer reads all tokens in one step

    @property
    def written_step(self) -> list[int]:
        """The step by which each output token has been written: every word passes through each decoder layer."""
        return [self.encoder_steps + (k + 1) * self.decoder_layers for k in range(len(self.output_tokens))]

    @property
    def total_steps(self) -> int:
        return max(self.read_step[-1:] + self.written_step[-1:])

    @property
    def total_ms(self) -> float:
        return max(self.read_at[-1:] + self.written_at[-1:])


@torch.inference_mode()
def decode_timeline(translator, sentence: str, repeats: int = 3) -> Timeline:
    """Greedy-decode `sentence`, timing the encoder and every decoder step (fastest of `repeats` runs: the outputs are
    the same each time, the timings less noisy)."""
    model, tokenizer = translator.model, translator.tokenizer
    ids = clip_source(encode(tokenizer, [sentence])[0])
    src = pad_batch([ids], translator.device)  # [1, S]
    limit = max_lengths([len(ids)], 2.0)[0]
    best_encoder, best_steps, outputs = float("inf"), None, []
    for _ in range(repeats):
        start = time.perf_counter()
        enc = model.encode(src)
        encoder_ms = (time.perf_counter() - start) * 1000
        state, prev = model.init_state(enc), torch.full((1,), BOS_ID, dtype=torch.long, device=src.device)
        outputs, step_ms = [], []
        for _ in range(limit + 1):
            start = time.perf_counter()
            logits, state = model.step(prev, state, enc)  # [1, V]
            logits[:, NEVER_OUTPUT] = float("-inf")
            prev = logits.argmax(-1)  # [1]
            token = prev.item()
            step_ms.append((time.perf_counter() - start) * 1000)
            if token == EOS_ID or len(outputs) == limit:
                break
            outputs.append(token)
        best_encoder = min(best_encoder, encoder_ms)
        best_steps = step_ms if best_steps is None else [min(a, b) for a, b in zip(best_steps, step_ms)]
    in_order = model.recurrent
    n = len(ids)
    layers = model.sequential_steps(1)  # encoder + decoder layers (recurrent: for one token)
    encoder_layers = layers // 2  # every family here has as many encoder layers as decoder layers
    read_at = [best_encoder * (i + 1) / n for i in range(n)] if in_order else [best_encoder] * n
    written_at, clock = [], best_encoder
    for ms in best_steps[: len(outputs)]:
        clock += ms
        written_at.append(clock)
    return Timeline(tokenizer.convert_ids_to_tokens(ids), read_at, tokenizer.convert_ids_to_tokens(outputs),
                    written_at, encoder_layers * (n if in_order else 1), in_order, encoder_layers,
                    layers - encoder_layers)


def steps_done(timeline: Timeline, at_ms: float) -> int:
    """Steps run one after another by `at_ms` on the measured clock (the step clock's reading at that moment)."""
    read = sum(t <= at_ms for t in timeline.read_at)
    written = sum(t <= at_ms for t in timeline.written_at)
    if written:
        return timeline.written_step[written - 1]
    return timeline.read_step[read - 1] if read else 0
