"""torchrun with 2 CPU processes (gloo) trains the same model as one process with the same global batch."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.paths import ROOT

pytestmark = pytest.mark.slow

TRAIN = ["-m", "engine", "train", "--preset", "transformer", "--size", "tiny", "--train-limit", "300",
         "--vocab-size", "300", "--max-tokens", "400", "--checkpoint-every", "4", "--threads", "1", "--device", "cpu"]


def run(args: list[str]) -> None:
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def steps(run_dir: Path) -> list[dict]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "step"]


def test_two_gloo_processes_match_one_process_and_resume(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    run([sys.executable, *TRAIN, "--max-steps", "12", "--run-dir", str(single)])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run([*torchrun, *TRAIN, "--max-steps", "6", "--run-dir", str(ddp)])
    run([*torchrun, *TRAIN, "--max-steps", "12", "--resume", "--run-dir", str(ddp)])  # resume under torchrun

    one, two = steps(single), steps(ddp)
    assert [r["step"] for r in two] == list(range(1, 13))  # logged once (rank 0 only), no gaps after resume
    assert [r["tokens"] for r in two] == [r["tokens"] for r in one]  # global tokens summed over the ranks
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-3, abs=1e-3)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-3, abs=1e-3)
    weights_one = load_file(single / "checkpoint" / "model.safetensors")
    weights_two = load_file(ddp / "checkpoint" / "model.safetensors")
    assert weights_one.keys() == weights_two.keys()
    for name in weights_one:
        torch.testing.assert_close(weights_two[name], weights_one[name], atol=1e-4, rtol=1e-3)
    meta = json.loads((ddp / "checkpoint" / "config.json").read_text())["meta"]
    assert meta["processes"] == 2
    assert json.loads((single / "checkpoint" / "config.json").read_text())["meta"]["processes"] == 1
