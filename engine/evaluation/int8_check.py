"""The quality check that decides where the int8 output layer (engine/models/int8.py) is offered: the dashboard
offers it only for checkpoints whose test chrF and BLEU fell by less than MAX_DROP in `python -m engine int8-check`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.data import corpora
from engine.evaluation.metrics import corpus_scores
from engine.evaluation.scoring import eval_file
from engine.inference.translate import Translator
from engine.paths import RESULTS_DIR

MAX_DROP = 0.3  # largest fall in test chrF or BLEU for which the int8 layer is offered
CHECK_FILE = RESULTS_DIR / "int8-check.json"


def weights_digest(checkpoint: Path) -> str:
    """sha256 of a checkpoint's weights: a check result belongs to these weights only."""
    digest = hashlib.sha256()
    with open(Path(checkpoint) / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def drop(fp32: dict, int8: dict) -> dict:
    """How much chrF and BLEU fell from fp32 to int8 (negative: rose), and whether both stay under MAX_DROP."""
    fell = {metric: round(fp32[metric] - int8[metric], 2) for metric in ("chrf", "bleu")}
    return {**fell, "passed": all(value < MAX_DROP for value in fell.values())}


def passed_checkpoints(check: dict, checkpoints: dict[str, Path]) -> set[str]:
    """The names whose weights passed on every corpus checked (weights changed since: not passed)."""
    models = check.get("models") if isinstance(check, dict) else None
    passed = set()
    for name, path in checkpoints.items():
        row = models.get(name) if isinstance(models, dict) else None
        if not isinstance(row, dict) or not row.get("corpora"):
            continue
        try:
            same_weights = row.get("weights_sha256") == weights_digest(path)
        except OSError:
            continue
        if same_weights and all(isinstance(c, dict) and c.get("passed") is True for c in row["corpora"].values()):
            passed.add(name)
    return passed


def still_valid_rows(earlier: dict, decoding: dict, checkpoints: dict[str, Path]) -> dict:
    """The rows of an earlier check worth keeping: same decoding settings, and weights unchanged since."""
    models = earlier.get("models") if isinstance(earlier, dict) else None
    if not isinstance(models, dict) or earlier.get("decoding") != decoding:
        return {}
    kept = {}
    for name, row in models.items():
        path = checkpoints.get(name)
        try:
            if path is not None and isinstance(row, dict) and row.get("weights_sha256") == weights_digest(path):
                kept[name] = row
        except OSError:
            continue
    return kept


def check_checkpoint(path: Path, corpus_names: list[str], beam: int, length_penalty: float) -> dict:
    """int8 against fp32 on each corpus's test split, both decoded with (beam, length_penalty). The fp32 side comes
    from the checkpoint's eval file when that used these settings and its first batch (32 outputs) is reproduced
    now, so that it belongs to these weights and this decoder; otherwise it is decoded again."""
    fp32, int8 = Translator.load(path), Translator.load(path, int8=True)
    row = {"weights_sha256": weights_digest(path), "corpora": {}}
    for corpus in corpus_names:
        pairs = corpora.load_split(corpus, "test", fp32.meta["direction"])
        sources, references = [s for s, _ in pairs], [t for _, t in pairs]
        fp32_hypotheses = _recorded_hypotheses(fp32, path, corpus, sources, beam, length_penalty)
        if fp32_hypotheses is None:
            fp32_hypotheses = [t.text for t in fp32.translate(sources, beam=beam, length_penalty=length_penalty)]
        int8_hypotheses = [t.text for t in int8.translate(sources, beam=beam, length_penalty=length_penalty)]
        before, after = (corpus_scores(h, references, ("bleu", "chrf")) for h in (fp32_hypotheses, int8_hypotheses))
        row["corpora"][corpus] = {"sentences": len(pairs), "fp32": before, "int8": after, **drop(before, after),
                                  "outputs_changed": sum(a != b for a, b in zip(fp32_hypotheses, int8_hypotheses))}
    return row


def _recorded_hypotheses(translator: Translator, path: Path, corpus: str, sources: list[str], beam: int,
                         length_penalty: float) -> list[str] | None:
    """The eval file's hypotheses for this corpus, if made with these settings and reproduced on its first 32."""
    own = translator.meta.get("corpus")
    try:
        record = json.loads(eval_file(path, None if corpus == own else corpus).read_text())
        hypotheses = record["hypotheses"]
        same = record["decoding"]["beam"] == beam and record["decoding"]["length_penalty"] == length_penalty
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not same or len(hypotheses) != len(sources):
        return None
    again = [t.text for t in translator.translate(sources[:32], beam=beam, length_penalty=length_penalty)]
    return hypotheses if again == hypotheses[:32] else None
