import itertools
import json

import pytest
import torch

from engine.models.marian import MarianSeq2Seq
from engine.models.transformer import TransformerSeq2Seq
from engine.training import metrics_log
from engine.training.trainer import TrainConfig, Trainer, TrainingStopped, snapshot_files, with_family_recipe


def config(**kw):
    base = dict(preset="gru-attn", size="tiny", vocab_size=300, train_limit=200, max_tokens=300, max_steps=12,
                checkpoint_every=5, eval_every=6, valid_sentences=10, warmup_steps=5, seed=3)
    return TrainConfig(**{**base, **kw})


def records(run_dir, kind="step"):
    return metrics_log.read(run_dir / "metrics.jsonl", kind)


@pytest.mark.parametrize("preset", ["gru-attn", "transformer"])
def test_resume_reproduces_an_uninterrupted_run(tmp_path, preset):
    straight = Trainer(config(preset=preset), tmp_path / "straight")
    straight.train()

    first = Trainer(config(preset=preset, max_steps=7), tmp_path / "resumed")
    first.train()
    second = Trainer(config(preset=preset), tmp_path / "resumed")
    assert second.state.step == 7
    second.train()

    for a, b in zip(straight.model.parameters(), second.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    losses = [r["loss"] for r in records(tmp_path / "straight")]
    resumed = records(tmp_path / "resumed")
    assert [r["step"] for r in resumed] == list(range(1, 13))  # no gaps, no duplicates
    assert [r["loss"] for r in resumed] == pytest.approx(losses, abs=1e-3)


def test_metrics_hold_what_the_dashboard_plots(tmp_path):
    seen = []
    Trainer(config(), tmp_path / "run", on_record=seen.append).train()
    steps = records(tmp_path / "run")
    assert {"loss", "tokens_per_s", "grad_norm", "lr", "wall_seconds", "train_seconds"} <= set(steps[0])
    evals = records(tmp_path / "run", "eval")
    assert [e["step"] for e in evals] == [6, 12]  # every 6 steps; the last one doubles as the final evaluation
    assert {"valid_loss", "valid_bleu", "valid_ppl"} <= set(evals[0])
    assert seen[-1]["kind"] == "end" and (tmp_path / "run" / "best" / "model.safetensors").exists()
    assert steps[-1]["loss"] < steps[0]["loss"]


def test_stop_callback_saves_and_ends(tmp_path):
    trainer = Trainer(config(max_steps=100), tmp_path / "run", should_stop=lambda: trainer.state.step >= 3)
    state = trainer.train()
    assert state.step == 3 and state.finished == "stopped"
    assert Trainer(config(max_steps=100), tmp_path / "run").state.step == 3


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(config(max_steps=20, checkpoint_every=4), tmp_path / "run")
    original = trainer.train_step

    def poisoned(batch):
        if trainer.state.step == 9:
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))
        return original(batch)

    trainer.train_step = poisoned
    with pytest.raises(TrainingStopped, match="nan"):
        trainer.train()
    resumed = Trainer(config(max_steps=20), tmp_path / "run")
    assert resumed.state.step == 8
    assert all(torch.isfinite(p).all() for p in resumed.model.parameters())


def test_gradient_norm_is_logged_before_clipping(tmp_path):
    Trainer(config(clip_norm=1e-3, max_steps=3, eval_every=0), tmp_path / "run").train()
    assert all(r["grad_norm"] > 1e-3 for r in records(tmp_path / "run"))


def test_learning_rate_warms_up_then_follows_the_schedule():
    from engine.training.trainer import learning_rate

    assert learning_rate(50, 1e-3, 100) == pytest.approx(5e-4)
    assert learning_rate(100, 1e-3, 100) == pytest.approx(1e-3)
    assert learning_rate(400, 1e-3, 100) == pytest.approx(5e-4)
    assert learning_rate(400, 1e-3, 100, "constant") == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(1, 1e-3, 10, "cosine")


def test_a_crash_right_after_an_evaluation_leaves_no_duplicate_in_the_log(tmp_path, monkeypatch):
    cfg = TrainConfig(preset="gru", size="tiny", vocab_size=300, train_limit=200, max_tokens=400, max_epochs=1,
                      checkpoint_every=1, valid_sentences=5, threads=1)
    evaluate = Trainer.run_evaluation

    def evaluate_then_crash(self):
        evaluate(self)
        raise RuntimeError("killed")  # after the eval record was written, before any later checkpoint

    monkeypatch.setattr(Trainer, "run_evaluation", evaluate_then_crash)
    with pytest.raises(RuntimeError, match="killed"):
        Trainer(cfg, tmp_path / "run").train()
    monkeypatch.undo()
    Trainer(cfg, tmp_path / "run").train()  # resume: the epoch-end evaluation runs again
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r["step"] for r in records if r["kind"] == "eval"]
    assert len(evaluations) == 1


def test_a_token_budget_stops_training_and_evaluations_come_at_token_intervals(tmp_path):
    trainer = Trainer(config(max_steps=None, eval_every=0, max_train_tokens=6000, eval_every_tokens=2000),
                      tmp_path / "run")
    state = trainer.train()
    steps, evals = records(tmp_path / "run"), records(tmp_path / "run", "eval")
    assert state.finished == "budget spent" and state.tokens_seen >= 6000
    assert state.tokens_seen - steps[-1]["tokens"] < 6000  # stopped at the first step past the budget
    assert [r["tokens_seen"] for r in steps] == list(itertools.accumulate(r["tokens"] for r in steps))
    crossings = [e["tokens_seen"] // 2000 for e in evals]
    assert crossings == sorted(set(crossings)) and len(evals) >= 3  # one evaluation per 2,000 tokens
    assert {"valid_chrf", "valid_bleu", "tokens_seen"} <= set(evals[0])


@pytest.mark.slow  # loads and encodes the whole lexicon and Bible
def test_a_mix_trains_on_every_source_and_scores_each_corpus(tmp_path):
    trainer = Trainer(config(mix="ding-en-de*2,ding-en-de/lexicon*0.001,bible-en-de*0.002", train_limit=None,
                             max_steps=4), tmp_path / "run")
    sizes = trainer.data.sizes
    assert sizes[1] > 100_000 and sizes[2] > 20_000
    drawn = [i for batch in trainer.data.epoch_batches(0, max_tokens=300, seed=3) for i in batch]
    assert sorted(i for i in drawn if i < sizes[0]) == sorted(list(range(sizes[0])) * 2)
    assert len([i for i in drawn if i >= sizes[0] + sizes[1]]) == round(0.002 * sizes[2])
    trainer.train()
    assert {"valid_chrf_bible-en-de", "valid_bleu_bible-en-de"} <= set(records(tmp_path / "run", "eval")[-1])


def test_the_family_recipe_fills_what_the_config_leaves_open():
    assert with_family_recipe(TrainConfig(preset="transformer")).lr == TransformerSeq2Seq.recipe["lr"] == 1e-3
    assert with_family_recipe(TrainConfig(preset="gru", lr=5e-4)).lr == 5e-4
    marian = with_family_recipe(TrainConfig(preset="hf-marian"))
    assert marian.warmup_steps == MarianSeq2Seq.recipe["warmup_steps"] == 600


def test_snapshots_keep_the_last_evaluations_for_averaging(tmp_path):
    Trainer(config(max_steps=12, eval_every=3, average_last=2), tmp_path / "run").train()
    assert [p.stem for p in snapshot_files(tmp_path / "run")] == ["step-00000009", "step-00000012"]
