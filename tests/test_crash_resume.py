"""SIGKILL a training process at random moments, resume it each time, and check nothing was half-written,
little was lost, and the metrics log reads as if the run had never been interrupted."""
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.models.checkpoint import load_checkpoint, read_json, resolve
from engine.paths import ROOT

pytestmark = pytest.mark.slow

STEPS, CHECKPOINT_EVERY, KILLS = 300, 3, 6
TRAIN = [sys.executable, "-m", "engine", "train", "--preset", "gru", "--size", "tiny", "--resume",
         "--train-limit", "400", "--vocab-size", "300", "--max-tokens", "300", "--max-steps", str(STEPS),
         "--checkpoint-every", str(CHECKPOINT_EVERY), "--threads", "1"]


def records(run: Path, kind: str) -> list[dict]:
    if not (run / "metrics.jsonl").exists():
        return []
    lines = (run / "metrics.jsonl").read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the line the kill cut short; resume drops it
    return [r for r in parsed if r["kind"] == kind]


def start(run: Path) -> subprocess.Popen:
    return subprocess.Popen([*TRAIN, "--run-dir", str(run)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def test_sigkill_at_random_moments_then_resume(tmp_path):
    rng = random.Random(20261125)
    run = tmp_path / "killed"
    kills = 0
    for _ in range(KILLS):
        done_before = len(records(run, "step"))
        process = start(run)
        deadline = time.time() + 120
        while len(records(run, "step")) <= done_before + 1 and process.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.5))  # somewhere in a step, an evaluation or a save
        if process.poll() is not None:
            break  # finished before we struck
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        logged = max(r["step"] for r in records(run, "step"))
        checkpoint = resolve(run / "checkpoint")
        if checkpoint.exists():
            load_checkpoint(checkpoint)  # never half-written: loads cleanly
            saved = read_json(checkpoint / "trainer_state.json")["step"]
        else:
            saved = 0
        assert logged - saved <= CHECKPOINT_EVERY, f"kill {kills}: lost {logged - saved} steps"
    assert kills >= KILLS - 1, f"only {kills} kills landed"

    finish = start(run)
    assert finish.wait(timeout=300) == 0, finish.stderr.read().decode()

    reference = tmp_path / "uninterrupted"
    assert start(reference).wait(timeout=300) == 0
    steps = records(run, "step")
    assert [r["step"] for r in steps] == list(range(1, STEPS + 1)), "gaps or duplicates in the resumed log"
    evaluations = [r["step"] for r in records(run, "eval")]
    assert evaluations == sorted(set(evaluations)) == [r["step"] for r in records(reference, "eval")]
    # resume restores weights, optimizer, data order and RNG: the losses match an uninterrupted run
    assert [r["loss"] for r in steps] == [r["loss"] for r in records(reference, "step")]
    assert not (run / "checkpoint.tmp").exists() and not (run / "checkpoint.old").exists()
