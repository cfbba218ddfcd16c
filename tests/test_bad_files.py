"""Hostile and damaged files: every one gives a CheckpointError naming the file; nothing is ever unpickled."""
import errno
import json
import pickle
import shutil
import struct
from pathlib import Path

import pytest
import torch

import engine.models.checkpoint
from engine.models import model_spec
from engine.models.checkpoint import CheckpointError, load_checkpoint, load_training_state, save_checkpoint
from engine.training.trainer import TrainConfig, Trainer
from tests.conftest import tiny_model


class PlantsAFile:
    """Unpickling this object creates a file: proof that something was unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def checkpoint(tmp_path, tiny_tokenizer):
    spec = model_spec("gru-attn", len(tiny_tokenizer), "tiny")
    save_checkpoint(tmp_path / "ckpt", tiny_model("gru-attn", len(tiny_tokenizer)), spec, tiny_tokenizer,
                    {"corpus": "ding-en-de", "direction": "en-de"})
    return tmp_path / "ckpt"


def edit_config(path: Path, change) -> None:
    config = json.loads((path / "config.json").read_text())
    change(config)
    (path / "config.json").write_text(json.dumps(config))


def safetensors_header(size: int, header: bytes = b"{}") -> bytes:
    return struct.pack("<Q", size) + header


def truncate(path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


DAMAGES = {
    "weights: truncated": lambda p: truncate(p / "model.safetensors", 5000),
    "weights: empty": lambda p: (p / "model.safetensors").write_bytes(b""),
    "weights: random bytes": lambda p: (p / "model.safetensors").write_bytes(bytes(range(256)) * 40),
    "weights: header claims 1 PB": lambda p: (p / "model.safetensors").write_bytes(safetensors_header(10**15)),
    "weights: header is not JSON": lambda p: (p / "model.safetensors").write_bytes(safetensors_header(8, b"notjson!")),
    "weights: a directory": lambda p: ((p / "model.safetensors").unlink(), (p / "model.safetensors").mkdir()),
    "weights: missing": lambda p: (p / "model.safetensors").unlink(),
    "weights: from another model": lambda p: edit_config(p, lambda c: c["model"]["config"].update(d_model=48)),
    "weights: from another family": lambda p: edit_config(p, lambda c: c["model"].update(family="transformer")),
    "config: huge model (never allocated)": lambda p: edit_config(p, lambda c: c["model"]["config"].update(
        d_model=10**7)),
    "config: negative size": lambda p: edit_config(p, lambda c: c["model"]["config"].update(d_model=-4)),
    "config: wrong version": lambda p: edit_config(p, lambda c: c.update(format_version=99)),
    "config: no model": lambda p: edit_config(p, lambda c: c.pop("model")),
    "config: a list": lambda p: (p / "config.json").write_text("[1, 2, 3]"),
    "config: not JSON": lambda p: (p / "config.json").write_text("{oops"),
    "config: not UTF-8": lambda p: (p / "config.json").write_bytes(b"\xff\xfe\x00garbage"),
    "config: unknown family": lambda p: edit_config(p, lambda c: c["model"].update(family="lstm-from-mars")),
    "tokenizer: not JSON": lambda p: (p / "tokenizer.json").write_text("nope"),
    "tokenizer: empty object": lambda p: (p / "tokenizer.json").write_text("{}"),
    "tokenizer: wrong vocabulary size": lambda p: edit_config(p, lambda c: c["model"]["config"].update(vocab_size=5)),
    "tokenizer: missing": lambda p: (p / "tokenizer.json").unlink(),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_checkpoints_give_a_clear_error_naming_the_file(checkpoint, damage):
    DAMAGES[damage](checkpoint)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(checkpoint)
    assert str(checkpoint) in str(error.value)
    assert any(name in str(error.value) for name in ("model.safetensors", "config.json", "tokenizer.json"))


def test_pickles_are_never_unpickled(checkpoint, tmp_path):
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(PlantsAFile(marker))
    (checkpoint / "pytorch_model.bin").write_bytes(payload)  # ignored beside a valid checkpoint
    load_checkpoint(checkpoint)
    torch.save({"evil": PlantsAFile(marker)}, checkpoint / "model.safetensors")  # a torch pickle in disguise
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(checkpoint)
    (checkpoint / "model.safetensors").write_bytes(payload)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(checkpoint)
    assert not marker.exists()


def test_a_pickled_optimizer_state_is_refused_on_resume(tmp_path, tiny_tokenizer):
    marker = tmp_path / "unpickled"
    spec = model_spec("gru", len(tiny_tokenizer), "tiny")
    model = tiny_model("gru", len(tiny_tokenizer))
    optimizer = torch.optim.AdamW(model.parameters())
    save_checkpoint(tmp_path / "c", model, spec, tiny_tokenizer, optimizer=optimizer, trainer_state={"step": 0})
    (tmp_path / "c" / "optimizer.safetensors").write_bytes(pickle.dumps(PlantsAFile(marker)))
    with pytest.raises(CheckpointError, match="cannot resume"):
        load_training_state(tmp_path / "c", model, optimizer)
    assert not marker.exists()


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    cfg = TrainConfig(preset="gru", size="tiny", vocab_size=300, train_limit=200, max_tokens=400, max_steps=4,
                      checkpoint_every=2, eval_every=0, valid_sentences=5, threads=1)
    Trainer(cfg, run).train()
    before = (run / "checkpoint" / "model.safetensors").read_bytes()

    real_save_file = engine.models.checkpoint.save_file

    def disk_full(tensors, filename, *args, **kwargs):
        real_save_file(tensors, filename, *args, **kwargs)
        Path(filename).write_bytes(Path(filename).read_bytes()[:100])  # half-written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(engine.models.checkpoint, "save_file", disk_full)
    trainer = Trainer(TrainConfig(**{**cfg.__dict__, "max_steps": 6}), run)
    with pytest.raises(CheckpointError, match="No space left on device"):
        trainer.train()
    assert (run / "checkpoint" / "model.safetensors").read_bytes() == before
    assert not (run / "checkpoint.tmp").exists()
    monkeypatch.undo()
    state = Trainer(TrainConfig(**{**cfg.__dict__, "max_steps": 6}), run).train()  # the disk has room again
    assert state.step == 6


def test_the_dashboard_keeps_serving_the_other_models_when_one_file_is_bad():
    from dashboard.models import CHECKPOINTS_DIR, RUNS_DIR
    from tests.helpers import answered_models, open_page, translate

    broken = {f"test-broken-{kind}": kind for kind in ("truncated", "pickle")}
    try:
        for name, kind in broken.items():
            shutil.copytree(CHECKPOINTS_DIR / "gru", RUNS_DIR / name / "best")
            weights = RUNS_DIR / name / "best" / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[:1000] if kind == "truncated" else pickle.dumps({"a": 1}))
        at = open_page("views/translate.py")
        at.query_params["runs"] = ",".join(broken)  # a shared link that names them
        at.run()
        at.multiselect[0].set_value(["gru-attn", *broken])
        translate(at, "The house is small.")
        errors = " ".join(e.value for e in at.error)
        assert all(name in errors for name in broken)
        assert all("model.safetensors" in c.value for c in at.code)
        assert answered_models(at) == ["gru-attn"]
    finally:
        for name in broken:
            shutil.rmtree(RUNS_DIR / name, ignore_errors=True)


@pytest.mark.parametrize("name", ["../escape", "..", "/etc/cron.d", "a/b", "a\\b", "", " ", "UPPER", "x" * 41, "-lead",
                                  "a\x00b", "naïve", "run\n", ".hidden", "~root"])
def test_run_names_cannot_escape_the_runs_folder(tmp_path, name):
    from dashboard.jobs import JobError, JobManager

    manager = JobManager(runs_dir=tmp_path / "runs")
    with pytest.raises(JobError):
        manager.start(name, TrainConfig(size="tiny", max_steps=1))
    assert not any(tmp_path.rglob("*")) and not manager.jobs
