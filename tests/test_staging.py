"""A shipped set trained in pieces: the manifest's refusals, a resumed `train-set`, and promotion as a whole."""
import json
import shutil
import subprocess
from dataclasses import replace

import pytest

from engine.data.tokenizer import train_tokenizer
from engine.models.recurrent import RecurrentSeq2Seq
from engine.paths import CHECKPOINTS_DIR
from engine.shipping import sets
from engine.training.trainer import TrainConfig
from tests.conftest import save_tiny_checkpoint

MIX = "ding-en-de,bible-en-de*0.005"
TINY = TrainConfig(preset="gru", size="tiny", mix=MIX, vocab_size=300, max_train_tokens=3000, seed=1)


def test_the_manifest_refuses_a_model_trained_unlike_the_set_and_names_the_field(monkeypatch):
    manifest = sets.plan(TINY, ["gru", "transformer"], beam=1, length_penalty=2.0)
    sets.check(manifest, sets.plan(replace(TINY, threads=2), ["transformer", "gru"], 1, 2.0))  # machine: fine
    for change, named in [({"max_train_tokens": 6000}, "budget"), ({"mix": "ding-en-de"}, "data mix"),
                          ({"seed": 2}, "seed"), ({"vocab_size": 500}, "tokenizer vocabulary"),
                          ({"model_overrides": {"dropout": 0.3}}, "model overrides")]:
        with pytest.raises(sets.SetMismatch, match=named):
            sets.check(manifest, sets.plan(replace(TINY, **change), ["gru", "transformer"], 1, 2.0))
    with pytest.raises(sets.SetMismatch, match="decoding"):
        sets.check(manifest, sets.plan(TINY, ["gru", "transformer"], 5, 2.0))
    # the code's recipe for a family changed while the set was staged
    monkeypatch.setattr(RecurrentSeq2Seq, "recipe", {"lr": 1e-2, "warmup_steps": 100})
    with pytest.raises(sets.SetMismatch, match="gru's recipe, lr"):
        sets.check(manifest, sets.plan(TINY, ["gru", "transformer"], 1, 2.0))


def test_the_manifest_refuses_a_model_with_another_tokenizer(tiny_pairs):
    manifest = sets.plan(TINY, ["gru"], 1, 2.0)
    texts = [x for pair in tiny_pairs for x in pair]
    manifest["tokenizer_sha256"] = sets.check_tokenizer(manifest, train_tokenizer(texts, 300))
    assert sets.check_tokenizer(manifest, train_tokenizer(texts, 300)) == manifest["tokenizer_sha256"]
    with pytest.raises(sets.SetMismatch, match="tokenizer"):
        sets.check_tokenizer(manifest, train_tokenizer(texts[:200], 300))


def stage_fake_model(folder, preset, tokenizer, manifest):
    """A staged model as train-set leaves it, without the training: weights, eval files, a manifest entry."""
    save_tiny_checkpoint(folder / preset, preset, tokenizer)
    for name in ("eval.json", "eval-bible-en-de.json"):
        (folder / preset / name).write_text(json.dumps({"chrf": 1.0}))
    manifest["models"][preset] = {"device": "cpu", "cpu": "Test CPU", "cores": 2, "threads": 2, "torch": "2",
                                  "wall_minutes": 1.0}


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_promotion_refuses_an_incomplete_set_then_moves_the_whole_set_with_git(tmp_path, tiny_tokenizer):
    repo = tmp_path / "repo"
    shipped, next_set = repo / "checkpoints", repo / "checkpoints" / "next"
    git(tmp_path, "init", "-q", str(repo))
    for old in ("gru", "lstm-attn"):  # the current set, with a model the next set drops
        save_tiny_checkpoint(shipped / old, old, tiny_tokenizer)
    manifest = sets.plan(replace(TINY, vocab_size=len(tiny_tokenizer)), ["gru", "transformer"], 1, 2.0)
    stage_fake_model(next_set, "gru", tiny_tokenizer, manifest)
    (next_set / sets.MANIFEST).write_text(json.dumps(manifest))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "current set, one staged")

    with pytest.raises(ValueError, match="incomplete: transformer not staged"):
        sets.promote(next_set, shipped)
    assert sorted(p.name for p in shipped.iterdir()) == ["gru", "lstm-attn", "next"]  # nothing moved

    stage_fake_model(next_set, "transformer", tiny_tokenizer, manifest)
    (next_set / sets.MANIFEST).write_text(json.dumps(manifest))
    git(repo, "add", "-A")
    assert sets.promote(next_set, shipped) == ["gru", "transformer"]
    assert sorted(p.name for p in shipped.iterdir()) == ["SET.json", "gru", "transformer"]  # no mixture of sets
    assert (shipped / "gru" / "eval-bible-en-de.json").exists()
    # git knows: the index holds the new set only, and nothing is left unstaged or untracked
    assert {f.split("/")[1] for f in git(repo, "ls-files").split()} == {"SET.json", "gru", "transformer"}
    assert all(line[1] == " " for line in git(repo, "status", "--porcelain").splitlines())


@pytest.mark.slow
def test_a_resumed_set_command_skips_the_staged_models_and_refuses_another_budget(tmp_path):
    from tests.test_cli import run

    folder, runs = tmp_path / "next", tmp_path / "runs"
    flags = ["--presets", "gru", "rnn-tanh", "--size", "tiny", "--mix", MIX, "--train-limit", "150",
             "--max-train-tokens", "3000", "--eval-every-tokens", "1000", "--vocab-size", "300", "--max-tokens",
             "300", "--beam", "1", "--runs-dir", str(runs)]
    stranger = run("train-set", str(folder), *flags, "--first", "lstm", check=False)  # not a model of the set
    assert stranger.returncode == 1 and "lstm is not in the set (gru, rnn-tanh)" in stranger.stderr
    first = run("train-set", str(folder), *flags, "--count", "1", "--first", "rnn-tanh").stdout  # out of order
    assert "staged rnn-tanh" in first and "still to train: gru" in first
    weights = (folder / "rnn-tanh" / "model.safetensors").read_bytes()

    refused = run("train-set", str(folder), "--max-train-tokens", "6000", "--runs-dir", str(runs), check=False)
    assert refused.returncode == 1 and "budget (--max-train-tokens) 3000" in refused.stderr
    assert "Traceback" not in refused.stderr

    second = run("train-set", str(folder), "--runs-dir", str(runs)).stdout  # the set's own settings
    assert "already staged in" in second and "rnn-tanh" in second and "staged gru" in second
    assert "2 of 2 models staged" in second
    assert (folder / "rnn-tanh" / "model.safetensors").read_bytes() == weights  # not trained again
    manifest = json.loads((folder / "SET.json").read_text())
    assert set(manifest["models"]) == {"gru", "rnn-tanh"} and manifest["settings"]["max_train_tokens"] == 3000
    record = manifest["models"]["gru"]
    assert record["tokens_seen"] >= 3000 and record["threads"] == 1 and record["cpu"] and record["code_commit"]
    assert json.loads((folder / "gru" / "eval-bible-en-de.json").read_text())["sentences"] == 1000

    shutil.rmtree(folder / "gru")  # recorded in SET.json, but its files were never committed
    lost = run("train-set", str(folder), "--runs-dir", str(runs), "--count", "0").stdout
    assert "records gru, but the exported files are missing" in lost and "still to train: gru" in lost
    assert set(json.loads((folder / "SET.json").read_text())["models"]) == {"rnn-tanh"}  # what is on disk


def test_every_model_the_staged_manifest_records_is_committed_beside_it():
    """A staged model is its files, not its line in SET.json: a commit of the manifest alone loses the model."""
    staging = CHECKPOINTS_DIR / "next"
    manifest = sets.read_manifest(staging)
    if manifest is None:
        pytest.skip("no set is being staged")
    lost = [p for p in manifest["models"] if not sets.is_staged(staging, manifest, p)]
    assert not lost, f"checkpoints/next/SET.json records {lost} without their exported files"
