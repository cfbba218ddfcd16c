"""A classroom's trainings: each visitor sees their own, the disk holds a bounded number, the memory too."""
import gc
import os
import shutil
import time

import pytest

from dashboard import jobs
from dashboard import models as catalogue
from dashboard.names import plain_name
from engine.inference.translate import Translator
from engine.paths import CHECKPOINTS_DIR
from engine.training.trainer import TrainConfig
from tests.conftest import save_tiny_checkpoint
from tests.helpers import open_page


def fake_run(runs_dir, name, megabytes, started):
    run = runs_dir / name
    (run / "best").mkdir(parents=True)
    (run / "best" / "model.safetensors").write_bytes(b"\0" * int(megabytes * 2**20))
    (run / "train_config.json").write_text("{}")
    os.utime(run / "train_config.json", (started, started))
    return run


def test_the_oldest_runs_make_room_and_training_runs_and_shipped_models_never_do(tmp_path):
    shipped_before = sorted(p.name for p in CHECKPOINTS_DIR.iterdir())
    now = time.time()
    for i in range(30):
        fake_run(tmp_path, f"run-{i:02d}", 0.5, now - 1000 + i)  # run-00 is the oldest
    evicted = jobs.evict_old_runs(tmp_path, keep={"run-01"}, max_runs=20, max_mb=100)
    assert evicted == ["run-00"] + [f"run-{i:02d}" for i in range(2, 11)]  # oldest first, run-01 is training
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert len(left) == 20 and "run-01" in left
    assert jobs.evicted_names(tmp_path) == set(evicted)
    evicted = jobs.evict_old_runs(tmp_path, keep=set(), max_runs=20, max_mb=4)  # now the disk limit binds
    assert sum(jobs.folder_bytes(tmp_path / n) for n in os.listdir(tmp_path) if (tmp_path / n).is_dir()) <= 4 * 2**20
    assert evicted[0] == "run-01" and len(evicted) == 13  # 7 runs of 0.5 MB and a little fit in 4 MB
    assert sorted(p.name for p in CHECKPOINTS_DIR.iterdir()) == shipped_before


def test_a_new_training_makes_room_first(tmp_path):
    now = time.time()
    for i in range(3):
        fake_run(tmp_path, f"old-{i}", 0.1, now - 100 + i)
    manager = jobs.JobManager(tmp_path, max_jobs=1, max_runs=3, max_mb=100)
    job = manager.start("new", TrainConfig(preset="gru", size="tiny", max_steps=2, train_limit=50, vocab_size=300,
                                           valid_sentences=5))
    job.thread.join(timeout=300)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["new", "old-1", "old-2"]
    assert jobs.evicted_names(tmp_path) == {"old-0"}


def test_a_visitor_sees_the_shipped_models_and_their_own_not_everyone_elses():
    others = ["test-other-a", "test-other-b"]
    try:
        for name in others:
            shutil.copytree(CHECKPOINTS_DIR / "gru", catalogue.RUNS_DIR / name / "best")
        at = open_page("views/translate.py")
        shipped = [e.name for e in catalogue.list_models() if e.shipped]
        named = [plain_name(n) for n in shipped]  # the options as the list shows them
        assert at.multiselect[0].options == named and at.multiselect[0].value == shipped
        at.query_params["runs"] = "test-other-a"  # a link a classmate shared
        at.run()
        assert at.multiselect[0].options == named + ["test-other-a"] and at.multiselect[0].value == shipped
    finally:
        for name in others:
            shutil.rmtree(catalogue.RUNS_DIR / name, ignore_errors=True)


def test_a_visitor_whose_run_was_evicted_is_told(tmp_path, monkeypatch):
    monkeypatch.setattr(catalogue, "RUNS_DIR", tmp_path)
    fake_run(tmp_path, "mine", 0.1, time.time() - 10)
    jobs.evict_old_runs(tmp_path, keep=set(), max_runs=0, max_mb=100)
    notice = catalogue.missing_runs_notice(["mine", "never-was"])
    assert notice.startswith("mine was removed to make room: this server keeps the ")
    assert notice.endswith("There is no model called never-was on this server.")
    assert catalogue.missing_runs_notice([]) is None


@pytest.mark.slow
def test_loaded_models_stay_bounded_however_many_runs_exist(tmp_path, monkeypatch, tiny_tokenizer):
    monkeypatch.setattr(catalogue, "RUNS_DIR", tmp_path)
    names = [f"run-{i:02d}" for i in range(45)]
    for name in names:
        save_tiny_checkpoint(tmp_path / name / "best", "gru", tiny_tokenizer)
    for entry in catalogue.list_models(names):
        catalogue.load_translator(entry).translate(["Hello."])
    gc.collect()
    alive = sum(isinstance(o, Translator) for o in gc.get_objects())
    assert len(catalogue.list_models(names)) > 45 and alive <= 32 + 1


def test_a_visitors_own_models_follow_the_shipped_set_on_the_translate_cards():
    from dashboard.translations import OWN, grouped

    names = ["a-run", "transformer", "gru", "gru-attn", "tiny-marian"]
    recurrent = {"a-run": True, "transformer": False, "gru": True, "gru-attn": True, "tiny-marian": False}
    presets = {"a-run": "gru", "transformer": "transformer", "gru": "gru", "gru-attn": "gru-attn"}
    cards = grouped(names, recurrent, presets, shipped={"transformer", "gru", "gru-attn"})
    assert list(cards.values()) == [["gru", "gru-attn"], ["transformer"], ["a-run", "tiny-marian"]]
    assert list(cards)[-1] == OWN
    by_kind = grouped(names, recurrent, presets)  # the heatmaps: every model with the others of its kind
    assert list(by_kind.values()) == [["a-run", "gru", "gru-attn"], ["transformer", "tiny-marian"]]
