"""A new model family is one module in engine/models/ plus one preset: this test registers a toy family and
checks that training, translation, the CLI, the bench, the Lab and the dashboard's model list take it with no
other edit."""
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from engine.data.tokenizer import PAD_ID
from engine.models import FAMILIES, PRESETS, Seq2Seq
from engine.models.base import source_mask


@dataclass
class ToyConfig:
    vocab_size: int = 100
    width: int = 16


class ToySeq2Seq(Seq2Seq):
    """A bag of source embeddings and a decoder that sees only the previous token and that bag."""

    family = "toy"
    tiny = {"width": 8}

    def __init__(self, cfg: ToyConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.width, padding_idx=PAD_ID)
        self.out = nn.Linear(cfg.width, cfg.vocab_size)

    @classmethod
    def probe_overrides(cls, hidden: int) -> dict:
        return {"width": hidden}

    @property
    def has_attention(self) -> bool:
        return False

    def sequential_steps(self, length: int) -> int:
        return 1

    def encode(self, src):
        mask = source_mask(src)
        bag = (self.embed(src) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # [B, S, W] -> [B, W]
        return {"src_mask": mask, "bag": bag}

    def decode(self, tgt_in, enc):
        return self.out(self.embed(tgt_in) + enc["bag"][:, None])  # [B, T, V]

    def init_state(self, enc):
        return torch.zeros(enc["bag"].shape[0], 1)  # nothing to carry; one column so beam search can reorder it

    def step(self, prev, state, enc):
        return self.out(self.embed(prev) + enc["bag"]), state  # [B, V]


@pytest.fixture
def toy_family(monkeypatch):
    monkeypatch.setitem(FAMILIES, "toy", (ToyConfig, ToySeq2Seq))
    monkeypatch.setitem(PRESETS, "toy", ("toy", {}))
    return "toy"


def test_a_registered_family_trains_translates_and_shows_up_everywhere(toy_family, tmp_path, monkeypatch):
    from dashboard import models as catalogue
    from engine.cli import build_parser
    from engine.experiments import bench, lab
    from engine.inference.translate import Translator
    from engine.training.trainer import TrainConfig, Trainer

    runs = tmp_path / "runs"
    cfg = TrainConfig(preset="toy", size="tiny", vocab_size=300, train_limit=200, max_tokens=300, max_steps=6,
                      eval_every=3, valid_sentences=5)
    state = Trainer(cfg, runs / "my-toy").train()
    assert state.finished == "budget spent" and state.step == 6

    translator = Translator.load(runs / "my-toy" / "best")
    assert isinstance(translator.model, ToySeq2Seq) and translator.model.cfg.width == 8
    assert not translator.has_attention
    for beam in (1, 3):
        assert len(translator.translate(["The house is small.", "Where is it?"], beam=beam)) == 2

    assert build_parser().parse_args(["train", "--preset", "toy", "--size", "tiny"]).preset == "toy"
    assert bench.sequential_steps("toy", 50) == 1
    assert bench.training_throughput("toy", 8, batch=4, repeats=1, size="tiny")["tokens_per_s"] > 0
    assert bench.decode_latency("toy", steps=4, repeats=1)["ms"] > 0
    assert len(lab.gradient_by_source_position("toy", length=6, hidden=8)) == 6

    monkeypatch.setattr(catalogue, "RUNS_DIR", runs)
    entry = next(e for e in catalogue.list_models(["my-toy"]) if e.name == "my-toy")
    assert catalogue.load_translator(entry).translate(["Hello."])[0].tokens is not None
