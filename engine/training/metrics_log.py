"""A training run's metrics log, `metrics.jsonl`: one JSON record per line ("step", "eval", "end"), appended as
training goes, read by the dashboard, repaired when a run resumes from an earlier checkpoint."""
from __future__ import annotations

import json
from pathlib import Path


def append(path: Path, record: dict) -> None:
    """Add one record at the end of the log."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read(path: Path, kind: str | None = None) -> list[dict]:
    """The records (of one kind, if given); a line cut by a crash, or being written right now, is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if kind is None or record.get("kind") == kind:
            records.append(record)
    return records


def truncate(path: Path, step: int, last_eval_step: int) -> None:
    """Keep what a checkpoint saved at `step` includes: earlier records, and at `step` itself its step record and
    (if it was saved after it) its evaluation. A resumed run then logs no step or evaluation twice."""
    if not Path(path).exists():
        return
    kept = [r for r in read(path) if r.get("step", 0) < step or (r.get("step", 0) == step and (
        r.get("kind") != "eval" or step == last_eval_step))]
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    tmp.replace(path)
