import json
import subprocess
import sys

import pytest

from engine.cli import main
from engine.evaluation import int8_check
from engine.paths import ROOT

pytestmark = pytest.mark.slow

SHIPPED = ROOT / "checkpoints"


def run(*args, check=True):
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          check=check, env=env)


def test_every_command_has_help(capsys):
    assert "usage: python -m engine" in run("--help").stdout  # the entry point itself, in a fresh interpreter
    for command in ("data", "train", "train-all", "train-set", "promote-set", "eval", "translate", "export",
                    "export-hf", "bench", "report", "int8-check", "arena"):
        with pytest.raises(SystemExit, match="0"):  # in-process: the same parser, without a torch import each
            main([command, "--help"])
        assert "usage: python -m engine " + command in capsys.readouterr().out


def test_train_export_eval_translate_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    run("train", "--preset", "transformer", "--size", "tiny", "--max-steps", "6", "--train-limit", "150",
        "--vocab-size", "300", "--max-tokens", "300", "--run-dir", str(run_dir), "--eval-every", "3")
    again = run("train", "--preset", "transformer", "--run-dir", str(run_dir), check=False)
    assert again.returncode != 0 and "--resume" in again.stderr
    run("export", str(run_dir), str(tmp_path / "shipped"))
    run("eval", str(tmp_path / "shipped"), "--beam", "2")
    result = json.loads((tmp_path / "shipped" / "eval.json").read_text())
    assert result["sentences"] == 1000 and result["bleu_signature"].startswith("nrefs:1|")
    out = run("translate", str(tmp_path / "shipped"), "The house is small.", "-v").stdout
    assert "ms" in out
    # the int8 check reuses eval.json's fp32 side (same settings, same weights) and records the weights it judged
    run("int8-check", str(tmp_path / "shipped"), "--corpora", "ding-en-de", "--beam", "2", "--out",
        str(tmp_path / "int8.json"))
    row = json.loads((tmp_path / "int8.json").read_text())["models"]["shipped"]
    ding = row["corpora"]["ding-en-de"]
    assert ding["fp32"]["chrf"] == result["chrf"] and ding["sentences"] == 1000 and isinstance(ding["passed"], bool)
    assert row["weights_sha256"] == int8_check.weights_digest(tmp_path / "shipped")


def test_a_mixed_token_budget_run_is_averaged_at_export_and_scored_on_both_test_splits(tmp_path):
    run_dir, shipped = tmp_path / "run", tmp_path / "shipped"
    run("train", "--preset", "gru-attn", "--size", "tiny", "--mix", "ding-en-de,bible-en-de*0.005",
        "--train-limit", "150", "--max-train-tokens", "4000", "--eval-every-tokens", "1000", "--average-last", "3",
        "--vocab-size", "300", "--max-tokens", "300", "--run-dir", str(run_dir))
    evals = [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "eval"]
    assert len(evals) >= 4 and all("valid_chrf_bible-en-de" in r for r in evals)
    out = run("export", str(run_dir), str(shipped)).stdout
    assert "averaging 3 snapshots" in out
    averaging = json.loads((shipped / "config.json").read_text())["meta"]["averaging"]
    assert averaging["shipped"] in ("averaged", "best") and len(averaging["snapshots"]) == 3
    run("eval", str(shipped), "--beam", "1")
    run("eval", str(shipped), "--beam", "1", "--corpus", "bible-en-de")
    bible = json.loads((shipped / "eval-bible-en-de.json").read_text())
    assert bible["corpus"] == "bible-en-de" and bible["long_sentences"]["min_words"] == 30
    assert bible["by_length"][-1]["bucket"] in ("61-80", "81+")  # the long buckets are there
    report = run("report", "--dir", str(tmp_path)).stdout
    assert "**ding-en-de test**" in report and "**bible-en-de test**" in report and "≥ 30 words" in report


def test_bad_checkpoint_path_is_a_clear_error(tmp_path):
    result = run("translate", str(tmp_path / "missing"), "hello", check=False)
    assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped checkpoints yet")
def test_shipped_checkpoints_load_and_translate():
    from engine.inference.translate import Translator

    names = sorted(p.name for p in SHIPPED.iterdir() if (p / "config.json").exists())
    assert len(names) >= 7
    for name in names:
        translator = Translator.load(SHIPPED / name)
        assert translator.translate(["The weather is nice today."])[0].text
        assert json.loads((SHIPPED / name / "eval.json").read_text())["sentences"] == 1000


def test_a_decode_sweep_update_keeps_the_other_models_rows_only_when_swept_the_same_way(tmp_path, tiny_tokenizer):
    from engine.cli import main
    from tests.conftest import save_tiny_checkpoint

    first, second = (save_tiny_checkpoint(tmp_path / n, "gru-attn", tiny_tokenizer) for n in ("first", "second"))
    out = tmp_path / "sweep.json"
    sweep = ["decode-sweep", "--sentences", "2", "--length-penalties", "1.0", "--out", str(out)]
    main([*sweep, str(first)])
    main([*sweep, str(second), "--update"])
    report = json.loads(out.read_text())
    assert set(report["models"]) == {"first", "second"} and report["earlier_rows_from"]
    assert [r["length_penalty"] for r in report["models"]["first"]["ding-en-de"]] == [1.0, 1.0]
    main([*sweep, str(second), "--update", "--length-penalties", "2.0"])  # swept differently: the rows go
    assert set(json.loads(out.read_text())["models"]) == {"second"}
    main([*sweep, str(first)])  # no --update: a fresh file
    assert set(json.loads(out.read_text())["models"]) == {"first"}
