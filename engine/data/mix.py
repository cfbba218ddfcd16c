"""Training data: mixes of several corpora (and a corpus's training-only extras) with a weight each, encoded
once and drawn from anew every epoch.

A mix is written `SOURCE*WEIGHT,SOURCE*WEIGHT,...`, a source being a corpus (its train split) or
`corpus/extra` (e.g. `ding-en-de/lexicon`). Each epoch takes every pair of a source `int(weight)` times plus a
seeded random fraction `weight % 1` of it, so `ding-en-de*3,ding-en-de/lexicon*0.1` shows each ding sentence
three times and a different tenth of the dictionary every epoch. The same seed and epoch give the same mix.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from engine.data import corpora
from engine.data.batching import token_batches
from engine.data.tokenizer import encode


@dataclass(frozen=True)
class Source:
    """One part of a mix: a corpus's split (train or an extra) and its weight."""
    corpus: str
    split: str  # "train" or one of corpora.EXTRA_SPLITS
    weight: float

    @property
    def name(self) -> str:
        return self.corpus if self.split == "train" else f"{self.corpus}/{self.split}"


def parse_mix(text: str) -> list[Source]:
    """`"ding-en-de*3,ding-en-de/lexicon*0.1"` -> Sources; a missing weight means 1."""
    sources = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight_text = item.partition("*")
        corpus, _, split = name.strip().partition("/")
        corpora.corpus_info(corpus)
        split = split or "train"
        if split != "train" and split not in corpora.EXTRA_SPLITS:
            raise ValueError(f"unknown extra {split!r} in the mix; choose one of: {', '.join(corpora.EXTRA_SPLITS)}")
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise ValueError(f"mix weight {weight_text!r} of {name!r} is not a number") from None
        if not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"mix weight of {name!r} must be a positive number, not {weight_text}")
        sources.append(Source(corpus, split, weight))
    if not sources:
        raise ValueError("the mix names no corpus")
    return sources




def epoch_indices(sizes: list[int], weights: list[float], seed: int, epoch: int) -> list[int]:
    """Indices into the concatenated sources that one epoch trains on (each source repeated by its weight)."""
    rng = random.Random(seed * 7_919 + epoch)
    indices, offset = [], 0
    for size, weight in zip(sizes, weights):
        whole, fraction = int(weight), weight - int(weight)
        indices += list(range(offset, offset + size)) * whole
        if fraction:
            indices += sorted(rng.sample(range(offset, offset + size), round(fraction * size)))
        offset += size
    return indices


@dataclass
class TrainingData:
    """The pairs of a mix (sources concatenated in the mix's order), their token ids, and each epoch's batches."""

    sources: list[Source]
    sizes: list[int]  # pairs per source
    pairs: list[tuple[str, str]]
    src_ids: list[list[int]] = field(default_factory=list)
    tgt_ids: list[list[int]] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)  # the longer side of each pair, in tokens

    @classmethod
    def load(cls, mix: str, direction: str, limit: int | None = None) -> TrainingData:
        """The mix's pairs; `limit` keeps only the first pairs of its first source (tests, quick runs)."""
        sources = parse_mix(mix)
        parts = [corpora.load_split(s.corpus, s.split, direction) for s in sources]
        parts[0] = parts[0][:limit]
        return cls(sources, [len(p) for p in parts], [pair for part in parts for pair in part])

    def texts(self) -> list[str]:
        """Every sentence of both sides (what the tokenizer is trained on)."""
        return [text for pair in self.pairs for text in pair]

    def encode(self, tokenizer, max_length: int) -> None:
        """Token ids of both sides (EOS appended), each cut to `max_length`."""
        self.src_ids = [s[:max_length] for s in encode(tokenizer, [s for s, _ in self.pairs])]
        self.tgt_ids = [t[:max_length] for t in encode(tokenizer, [t for _, t in self.pairs])]
        self.lengths = [max(len(s), len(t)) for s, t in zip(self.src_ids, self.tgt_ids)]

    def epoch_batches(self, epoch: int, max_tokens: int, seed: int) -> list[list[int]]:
        """This epoch's batches of indices into `pairs`: the mix's draw, then length-bucketed token batches."""
        chosen = epoch_indices(self.sizes, [s.weight for s in self.sources], seed, epoch)
        batches = token_batches([self.lengths[i] for i in chosen], max_tokens, seed, epoch)
        return [[chosen[j] for j in batch] for batch in batches]
