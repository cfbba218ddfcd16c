"""Scoring a checkpoint on a split into its eval*.json file: shared by `eval`, `train-all`, `train-set` and the
dashboard's Training page."""
from __future__ import annotations

from pathlib import Path

from engine.data import corpora
from engine.evaluation.metrics import evaluation_record
from engine.inference.translate import Translator
from engine.models.checkpoint import atomic_write_json
from engine.paths import shown


def eval_file(checkpoint: Path, corpus: str | None = None, split: str = "test") -> Path:
    """eval.json for the test split of the checkpoint's own corpus, eval-<corpus>.json for another corpus,
    with -<split> added for a split other than test (e.g. eval-valid.json while choosing a beam)."""
    return checkpoint / ("eval" + (f"-{corpus}" if corpus else "") + (f"-{split}" if split != "test" else "") + ".json")


def evaluate_checkpoint(path: Path, split: str = "test", beam: int = 5, length_penalty: float = 1.0,
                        corpus: str | None = None, limit: int | None = None, command: str | None = None) -> dict:
    """Translate a split (its first `limit` pairs, or all) and write the scores beside the checkpoint; `corpus`
    picks another corpus of the same direction (e.g. the long bible-en-de verses for a ding-en-de model)."""
    translator = Translator.load(path)
    if path.name == "best":  # a run's best weights go by the run's name
        translator.name = path.parent.name
    own = translator.meta["corpus"]
    corpus = None if corpus in (None, own) else corpus
    pairs = corpora.load_split(corpus or own, split, translator.meta["direction"])[:limit]
    command = command or (f"python -m engine eval {shown(path)} --split {split} --beam {beam}"
                          + (f" --length-penalty {length_penalty}" if length_penalty != 1.0 else "")
                          + (f" --corpus {corpus}" if corpus else ""))
    result = {**evaluation_record(translator, pairs, split, command, beam, length_penalty), "corpus": corpus or own}
    atomic_write_json(eval_file(path, corpus, split), result)
    return result
