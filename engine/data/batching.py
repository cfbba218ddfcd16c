"""Token-budget, length-bucketed batches: similar lengths together, little padding, a fixed seed per epoch."""
from __future__ import annotations

import random

import torch

from engine.data.tokenizer import BOS_ID, EOS_ID, PAD_ID


def token_batches(lengths: list[int], max_tokens: int, seed: int, epoch: int,
                  bucket_batches: int = 50) -> list[list[int]]:
    """Index batches whose padded size (batch x longest) stays within max_tokens; the same for the same seed+epoch.

    Shuffle, sort by length inside chunks of ~bucket_batches batches, cut into batches, shuffle the batches.
    """
    rng = random.Random(seed * 100_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mean = max(1, sum(lengths) // max(1, len(lengths)))
    chunk = max(1, bucket_batches * max_tokens // mean)
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        current: list[int] = []
        longest = 0
        for i in sorted(order[start : start + chunk], key=lambda i: lengths[i]):
            if current and max(longest, lengths[i]) * (len(current) + 1) > max_tokens:
                batches.append(current)
                current, longest = [], 0
            current.append(i)
            longest = max(longest, lengths[i])
        if current:
            batches.append(current)
    rng.shuffle(batches)
    return batches


def pad_batch(sequences: list[list[int]], device="cpu") -> torch.Tensor:
    """[B, longest] token ids, PAD_ID after each sequence (at least one column)."""
    width = max(1, max(len(s) for s in sequences))
    batch = torch.full((len(sequences), width), PAD_ID, dtype=torch.long)
    for i, seq in enumerate(sequences):
        batch[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return batch.to(device)


def synthetic_batch(batch: int, length: int, vocab: int, seed: int = 0, target_length: int | None = None,
                    eos: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random token ids (never the special ones) for benchmarks and experiments: src [B, length] (ending in EOS
    if `eos`), decoder input [B, T] = BOS + target[:-1], target [B, T]; T = target_length or length."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, vocab, (batch, length), generator=g)
    if eos:
        src[:, -1] = EOS_ID
    tgt = torch.randint(4, vocab, (batch, target_length or length), generator=g)
    tgt_in = torch.cat([torch.full((batch, 1), BOS_ID), tgt[:, :-1]], 1)
    return src, tgt_in, tgt


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # src [B, S], decoder input [B, T], decoder output [B, T]


def collate(src_ids: list[list[int]], tgt_ids: list[list[int]], device="cpu") -> Batch:
    """(src, decoder input = BOS + target, decoder output = target + EOS), PAD-padded. Targets already end in EOS."""
    return (
        pad_batch(src_ids, device),
        pad_batch([[BOS_ID] + t[:-1] for t in tgt_ids], device),
        pad_batch(tgt_ids, device),
    )
