"""Turning a training run into a shipped checkpoint: shared by `train-all`, `train-set`, `export` and the dashboard's
Training page."""
from __future__ import annotations

import shutil
from pathlib import Path

from engine.data import corpora
from engine.evaluation.metrics import mean_nll
from engine.models.checkpoint import average_weights, load_checkpoint, load_weights, save_checkpoint
from engine.paths import shown
from engine.training.trainer import snapshot_files


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
