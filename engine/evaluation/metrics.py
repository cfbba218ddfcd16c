"""Evaluation with sacrebleu (BLEU, chrF, TER and their signatures), BLEU per source length, perplexity."""
from __future__ import annotations

import math
import random
import time

import torch
import torch.nn.functional as F
from sacrebleu.metrics import BLEU, CHRF, TER

from engine.data.batching import collate, token_batches
from engine.data.tokenizer import PAD_ID, encode
from engine.inference.translate import Translator

LENGTH_BUCKETS = ((1, 5), (6, 10), (11, 15), (16, 20), (21, 30), (31, 40), (41, 50), (51, 60), (61, 80),
                  (81, 10_000))  # source words


METRICS = {"bleu": BLEU, "chrf": CHRF, "ter": TER}


def corpus_scores(hypotheses: list[str], references: list[str], metrics=("bleu", "chrf", "ter")) -> dict:
    """sacrebleu corpus BLEU, chrF and TER (0-100) with their signatures."""
    out = {}
    for name in metrics:
        metric = METRICS[name]()
        result = metric.corpus_score(hypotheses, [references])
        out[name] = round(result.score, 2)
        out[f"{name}_signature"] = str(metric.get_signature())
    return out


def bucket_label(low: int, high: int) -> str:
    """A length bucket's name, e.g. '6-10' or '81+'."""
    return f"{low}+" if high >= 10_000 else f"{low}-{high}"


def subset_scores(indices: list[int], hypotheses: list[str], references: list[str]) -> dict:
    """Corpus BLEU and chrF of the chosen sentences only."""
    scores = corpus_scores([hypotheses[i] for i in indices], [references[i] for i in indices], metrics=("bleu", "chrf"))
    return {"sentences": len(indices), "bleu": scores["bleu"], "chrf": scores["chrf"]}


def scores_by_length(sources: list[str], hypotheses: list[str], references: list[str]) -> list[dict]:
    """Corpus BLEU and chrF of the sentences in each source-length bucket (words), empty buckets left out."""
    rows = []
    for low, high in LENGTH_BUCKETS:
        idx = [i for i, s in enumerate(sources) if low <= len(s.split()) <= high]
        if idx:
            rows.append({"bucket": bucket_label(low, high), **subset_scores(idx, hypotheses, references)})
    return rows


LONG_SENTENCE_WORDS = 30


def long_sentence_scores(sources: list[str], hypotheses: list[str], references: list[str],
                         min_words: int = LONG_SENTENCE_WORDS) -> dict | None:
    """Corpus BLEU and chrF of the sentences with at least `min_words` source words (None if there are none)."""
    idx = [i for i, s in enumerate(sources) if len(s.split()) >= min_words]
    if not idx:
        return None
    return {"min_words": min_words, **subset_scores(idx, hypotheses, references)}


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0,
                  reduction: str = "sum") -> torch.Tensor:
    """Cross-entropy of logits [B, T, V] against target ids [B, T], padding ignored; "sum" or "mean" over tokens.
    Training, validation, the bench and the Lab all score with this one loss."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD_ID,
                           label_smoothing=label_smoothing, reduction=reduction)


@torch.inference_mode()
def mean_nll(model, tokenizer, pairs: list[tuple[str, str]], max_tokens: int = 4000) -> float:
    """Teacher-forced mean negative log-likelihood per target token (exp() of it is perplexity)."""
    model.eval()
    device = next(model.parameters()).device
    src_ids, tgt_ids = encode(tokenizer, [s for s, _ in pairs]), encode(tokenizer, [t for _, t in pairs])
    total, count = 0.0, 0
    for batch in token_batches([max(len(s), len(t)) for s, t in zip(src_ids, tgt_ids)], max_tokens, seed=0, epoch=0):
        src, tgt_in, tgt_out = collate([src_ids[i] for i in batch], [tgt_ids[i] for i in batch], device)
        total += sequence_loss(model(src, tgt_in), tgt_out).item()
        count += (tgt_out != PAD_ID).sum().item()
    return total / max(count, 1)


def evaluate(translator: Translator, pairs: list[tuple[str, str]], beam: int = 1, length_penalty: float = 1.0,
             samples: int = 20, seed: int = 0) -> dict:
    """Everything `eval.json` holds for one model on one test split."""
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    start = time.perf_counter()
    translations = translator.translate(sources, beam=beam, length_penalty=length_penalty)
    seconds = time.perf_counter() - start
    hypotheses = [t.text for t in translations]
    nll = mean_nll(translator.model, translator.tokenizer, pairs)
    picks = sorted(random.Random(seed).sample(range(len(pairs)), min(samples, len(pairs))))
    return {
        **corpus_scores(hypotheses, references),
        "perplexity": round(math.exp(nll), 2),
        "sentences": len(pairs),
        "decoding": {"beam": beam, "length_penalty": length_penalty, "seconds": round(seconds, 1)},
        "by_length": scores_by_length(sources, hypotheses, references),
        "long_sentences": long_sentence_scores(sources, hypotheses, references),
        "samples": [{"source": sources[i], "reference": references[i], "hypothesis": hypotheses[i]} for i in picks],
        "hypotheses": hypotheses,
    }


def evaluation_record(translator: Translator, pairs: list[tuple[str, str]], split: str, command: str, beam: int = 1,
                      length_penalty: float = 1.0) -> dict:
    """An `eval.json`: the checkpoint's identity and training budget, then `evaluate`'s figures and the command."""
    meta = translator.meta
    return {"checkpoint": translator.name, "corpus": meta["corpus"], "direction": meta["direction"], "split": split,
            "parameters": translator.model.num_parameters(), "train_minutes": meta.get("train_minutes"),
            **evaluate(translator, pairs, beam=beam, length_penalty=length_penalty), "command": command}


def decoding_sweep(translator: Translator, pairs: list[tuple[str, str]],
                   settings: list[tuple[int, float]]) -> list[dict]:
    """chrF/BLEU of each (beam, length penalty) on `pairs`: a valid split (choosing on test would tune on it)."""
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    rows = []
    for beam, penalty in settings:
        start = time.perf_counter()
        hypotheses = [t.text for t in translator.translate(sources, beam=beam, length_penalty=penalty)]
        rows.append({"beam": beam, "length_penalty": penalty, "seconds": round(time.perf_counter() - start, 1),
                     "mean_output_words": round(sum(len(h.split()) for h in hypotheses) / len(hypotheses), 2),
                     **corpus_scores(hypotheses, references, metrics=("bleu", "chrf"))})
    return rows
