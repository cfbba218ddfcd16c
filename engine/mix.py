"""Training-data mixes: several corpora (and a corpus's training-only extras) with a weight each.

A mix is written `SOURCE*WEIGHT,SOURCE*WEIGHT,...`, a source being a corpus (its train split) or
`corpus/extra` (e.g. `ding-en-de/lexicon`). Each epoch takes every pair of a source `int(weight)` times plus a
seeded random fraction `weight % 1` of it, so `ding-en-de*3,ding-en-de/lexicon*0.1` shows each ding sentence
three times and a different tenth of the dictionary every epoch. The same seed and epoch give the same mix.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from . import corpora


@dataclass(frozen=True)
class Source:
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


def load_sources(sources: list[Source], direction: str) -> list[list[tuple[str, str]]]:
    """The pairs of each source, in the mix's order."""
    return [corpora.load_split(s.corpus, s.split, direction) for s in sources]


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
