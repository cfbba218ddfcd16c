"""Data shaping for the Translate page (no streamlit): examples, translating with every model, attention views."""
from __future__ import annotations

import random

import numpy as np

from engine.data import corpora
from engine.experiments.lab import shuffle_words
from engine.inference.decoding import SERVING_LENGTH_PENALTY
from engine.inference.serving import MicroBatcher

BATCHER = MicroBatcher()  # one per server process: every session's requests for a model are decoded together


def examples(corpus: str, direction: str) -> list[str]:
    """Eight test sentences of the models' corpus, then four of every other corpus in this direction (long
    Bible verses for en-de), shortest first within each."""
    picks = []
    for other in [corpus] + [c for c in corpora.CORPORA if c != corpus and direction in corpora.directions(c)]:
        try:
            pairs = corpora.load_split(other, "test", direction)
        except corpora.CorpusError:
            continue
        picks += sorted((s for s, _ in random.Random(7).sample(pairs, 8 if other == corpus else 4)), key=len)
    return picks


def inputs_for(sentence: str, shuffle: bool) -> dict[str, str]:
    """{"original": sentence} and, if asked, the same words in a fixed random order."""
    inputs = {"original": sentence}
    if shuffle:
        inputs["shuffled"] = shuffle_words(sentence, seed=len(sentence.split()))
    return inputs


def translate_everything(translators: dict, inputs: dict[str, str], beam: int) -> dict:
    """Every model on every input, each decoded in a batch with other visitors' concurrent requests: {"inputs",
    "rows" (a table), "results" ((model, input) -> Translation), "parameters" (model -> count), "int8" (the models
    that ran with an int8 output layer)}."""
    rows, results = [], {}
    for name, translator in translators.items():
        for label, source in inputs.items():
            result = BATCHER.translate(translator, source, beam=beam, length_penalty=SERVING_LENGTH_PENALTY,
                                       with_attention=True)
            results[name, label] = result
            rows.append({"model": name, "input": label, "translation": result.text, "latency_ms": round(result.ms, 1),
                         "output_tokens": len(result.tokens), "parameters": translator.model.num_parameters()})
    return {"inputs": inputs, "rows": rows, "results": results,
            "parameters": {n: t.model.num_parameters() for n, t in translators.items()},
            "int8": [n for n, t in translators.items() if t.int8]}


def attention_view(attention: np.ndarray, layer="average", head="average") -> tuple[np.ndarray, str]:
    """attention [layers, heads, T, S] -> ([T, S] for one layer/head or their average, a label saying which)."""
    if attention.shape[0] * attention.shape[1] == 1:
        return attention[0, 0], "its only attention"
    chosen = attention if layer == "average" else attention[layer - 1 : layer]  # [L', heads, T, S]
    matrix = chosen.mean(0)  # [heads, T, S]
    matrix = matrix.mean(0) if head == "average" else matrix[head - 1]  # [T, S]
    return matrix, "average of all layers and heads" if layer == head == "average" else f"layer {layer}, head {head}"
