"""Token-budget, length-bucketed batches: similar lengths together, little padding, a fixed seed per epoch."""
from __future__ import annotations

import random

import torch

from .tokenizer import BOS_ID
from .translate import pad_batch


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


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # src [B, S], decoder input [B, T], decoder output [B, T]


def collate(src_ids: list[list[int]], tgt_ids: list[list[int]], device="cpu") -> Batch:
    """(src, decoder input = BOS + target, decoder output = target + EOS), PAD-padded. Targets already end in EOS."""
    return (
        pad_batch(src_ids, device),
        pad_batch([[BOS_ID] + t[:-1] for t in tgt_ids], device),
        pad_batch(tgt_ids, device),
    )
