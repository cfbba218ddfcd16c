"""Data shaping for the Translate page (no streamlit): examples, translating with every model, attention views."""
from __future__ import annotations

import random

import numpy as np

from dashboard.i18n import N_, millions, t
from dashboard.names import plain_name
from engine.data import corpora
from engine.experiments.lab import shuffle_words
from engine.inference.decoding import SERVING_LENGTH_PENALTY
from engine.inference.serving import MicroBatcher
from engine.models import PRESETS

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
        return attention[0, 0], t("its only attention")
    chosen = attention if layer == "average" else attention[layer - 1 : layer]  # [L', heads, T, S]
    matrix = chosen.mean(0)  # [heads, T, S]
    matrix = matrix.mean(0) if head == "average" else matrix[head - 1]  # [T, S]
    if layer == head == "average":
        return matrix, t("average of all layers and heads")
    return matrix, t("layer {layer}, head {head}", layer=t(layer) if layer == "average" else layer,
                     head=t(head) if head == "average" else head)


WORD_START = "\u2581"  # ▁: the tokenizers' mark for a piece that starts a new word
GROUPS = {True: N_("Recurrent: they read one word after another"),  # shown through t()
          False: N_("Transformers: they read all words at once"),
          None: N_("Other models")}
OWN = N_("Your models and added ones")


def grouped(names: list[str], recurrent: dict[str, bool | None], presets: dict[str, str | None],
            shipped: set[str] | None = None) -> dict[str, list]:
    """The models by kind (recurrent first, then Transformers), each group in the presets' order (the simplest
    first); groups with no model are left out. Given the `shipped` names, the others (a visitor's trainings, added
    Hugging Face models) follow in a group of their own, so the shipped set always comes first."""
    order = list(PRESETS)
    rank = lambda n: (order.index(presets[n]) if presets.get(n) in order else len(order), n)  # noqa: E731
    ours = [n for n in names if shipped is None or n in shipped]
    groups = {label: sorted((n for n in ours if recurrent.get(n) is kind), key=rank) for kind, label in GROUPS.items()}
    groups[OWN] = [n for n in names if n not in ours]
    return {label: members for label, members in groups.items() if members}


def card_title(name: str, preset: str | None) -> str:
    """A shipped model by its plain name ("GRU + attention"); a visitor's own run by its name and architecture."""
    if preset is None or name == preset:
        return plain_name(name)
    return t("{name} ({architecture})", name=name, architecture=plain_name(preset))


def expectations(metas: list[dict]) -> str | None:
    """One line on what the shipped models are (sizes, training time, data), read from their config.json, so a class
    knows that mistakes are normal; None when the checkpoints do not say."""
    known = [m for m in metas if m.get("parameters") and m.get("train_minutes") and m.get("train_pairs")]
    if not known:
        return None

    def span(values, fmt):
        low, high = min(values), max(values)
        return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low)}–{fmt(high)}"

    parameters = span([m["parameters"] for m in known], millions)
    minutes = span([m["train_minutes"] for m in known], lambda v: f"{v:.0f}")
    tokens = span([m.get("tokens_seen", 0) for m in known], lambda v: millions(v, 0))
    pairs = span([m["train_pairs"] for m in known], lambda v: f"{v:,}")
    threads = span([m.get("threads", 1) for m in known], str)
    return t("What to expect: these are small models ({parameters} parameters), each trained here for {minutes} "
             "minutes on {threads} CPU threads, reading {tokens} tokens drawn from {pairs} sentence pairs (everyday "
             "phrases, dictionary entries and Bible verses). Mistakes are normal: compare the models with each other, "
             "not with a commercial translator.", parameters=parameters, minutes=minutes, threads=threads,
             tokens=tokens, pairs=pairs)


def whole_words(matrix: np.ndarray, source: list[str], output: list[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Attention over subword pieces ([T, S]) regrouped into whole words: a source word gets the attention of all its
    pieces (summed), an output word the mean attention of its pieces. "▁b", "ought" -> "bought"."""
    source_words, source_of = _words(source)
    output_words, output_of = _words(output)
    by_source = np.zeros((matrix.shape[0], len(source_words)))  # [T, words in]
    np.add.at(by_source.T, source_of, matrix.T)
    by_word = np.zeros((len(output_words), len(source_words)))  # [words out, words in]
    np.add.at(by_word, output_of, by_source)
    by_word /= np.bincount(output_of, minlength=len(output_words))[:, None]
    return by_word, source_words, output_words


def _words(pieces: list[str]) -> tuple[list[str], list[int]]:
    """Subword pieces -> (words, the word each piece belongs to). A piece starting with ▁, a special token such as
    </s>, or a piece after one starts a new word."""
    words, owner = [], []
    for i, piece in enumerate(pieces):
        special = piece.startswith("<") and piece.endswith(">")
        after_special = i > 0 and pieces[i - 1].startswith("<") and pieces[i - 1].endswith(">")
        if not words or piece.startswith(WORD_START) or special or after_special:
            words.append(piece.lstrip(WORD_START) or piece)
        else:
            words[-1] += piece
        owner.append(len(words) - 1)
    return words, owner
