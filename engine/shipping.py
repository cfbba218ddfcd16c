"""Turning a training run into a shipped checkpoint, and scoring checkpoints: shared by `train-all`, `export`,
`eval` and the dashboard's Training page."""
from __future__ import annotations

import shutil
from pathlib import Path

from . import corpora
from .checkpoint import atomic_write_json, average_weights, load_checkpoint, load_weights, save_checkpoint
from .evaluation import evaluation_record, mean_nll
from .paths import shown
from .training import snapshot_files
from .translate import Translator


def export_run(run_dir: Path, out: Path, command: str) -> dict:
    """Ship a run as an fp16 checkpoint with its training log: the best weights, or the mean of the last
    evaluation snapshots (`--average-last`) when that scores a lower validation loss. Returns the meta."""
    source = run_dir / "best" if (run_dir / "best").exists() else run_dir / "checkpoint"
    model, spec, tokenizer, meta = load_checkpoint(source)
    meta = {**meta, "command": command, "exported_from": shown(source)}
    snapshots = snapshot_files(run_dir)[-meta.get("train_config", {}).get("average_last", 0):]
    if len(snapshots) > 1:
        valid = corpora.load_split(meta["corpus"], "valid", meta["direction"])
        best_loss = mean_nll(model, tokenizer, valid)
        best_weights = {k: v.clone() for k, v in model.state_dict().items()}
        load_weights(model, average_weights(snapshots))
        averaged_loss = mean_nll(model, tokenizer, valid)
        meta["averaging"] = {"snapshots": [p.stem for p in snapshots], "valid_loss_best": round(best_loss, 4),
                             "valid_loss_averaged": round(averaged_loss, 4), "shipped": "averaged"}
        if averaged_loss >= best_loss:
            model.load_state_dict(best_weights)
            meta["averaging"]["shipped"] = "best"
    save_checkpoint(out, model, spec, tokenizer, meta, half=True)
    shutil.copy(run_dir / "metrics.jsonl", out / "metrics.jsonl")
    return meta


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
