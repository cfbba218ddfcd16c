import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints"


def run(*args, check=True):
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True, check=check,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(ROOT)})


def test_every_command_has_help():
    for command in ("data", "train", "train-all", "eval", "translate", "export", "export-hf", "bench", "report"):
        assert "usage: python -m engine" in run(command, "--help").stdout


def test_train_export_eval_translate_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    run("train", "--preset", "transformer", "--size", "tiny", "--max-steps", "6", "--train-limit", "150",
        "--vocab-size", "300", "--max-tokens", "300", "--run-dir", str(run_dir), "--eval-every", "3")
    again = run("train", "--preset", "transformer", "--run-dir", str(run_dir), check=False)
    assert again.returncode != 0 and "--resume" in again.stderr
    run("export", str(run_dir), str(tmp_path / "shipped"))
    run("eval", str(tmp_path / "shipped"), "--beam", "2")
    result = json.loads((tmp_path / "shipped" / "eval.json").read_text())
    assert result["sentences"] == 1000 and "BLEU" in result["bleu_signature"] or "nrefs" in result["bleu_signature"]
    out = run("translate", str(tmp_path / "shipped"), "The house is small.", "-v").stdout
    assert "ms" in out


def test_bad_checkpoint_path_is_a_clear_error(tmp_path):
    result = run("translate", str(tmp_path / "missing"), "hello", check=False)
    assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped checkpoints yet")
def test_shipped_checkpoints_load_and_translate():
    from engine.translate import Translator

    names = sorted(p.name for p in SHIPPED.iterdir() if (p / "config.json").exists())
    assert len(names) >= 7
    for name in names:
        translator = Translator.load(SHIPPED / name)
        assert translator.translate(["The weather is nice today."])[0].text
        assert json.loads((SHIPPED / name / "eval.json").read_text())["sentences"] == 1000
