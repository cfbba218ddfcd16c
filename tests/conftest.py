from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from engine.data import corpora
from engine.data.tokenizer import train_tokenizer
from engine.models import PRESETS, build_model, model_spec
from engine.models.checkpoint import save_checkpoint

torch.set_num_threads(1)  # tests use tiny models; one thread keeps them steady on a shared 2-core machine


@pytest.fixture(scope="session")
def tiny_pairs():
    return corpora.load_split("ding-en-de", "train")[:300]


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_pairs):
    return train_tokenizer([x for pair in tiny_pairs for x in pair], vocab_size=400)


def tiny_model(preset: str, vocab_size: int, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(model_spec(preset, vocab_size, "tiny")).eval()


def save_tiny_checkpoint(path: Path, preset: str, tokenizer, model=None) -> Path:
    """A tiny model of `preset` (or `model`) saved as an en-de ding checkpoint at `path`."""
    spec = model_spec(preset, len(tokenizer), "tiny")
    if model is not None:
        spec["config"] = asdict(model.cfg)  # the sizes and layout it was built with
    save_checkpoint(path, model or tiny_model(preset, len(tokenizer)), spec, tokenizer,
                    {"corpus": "ding-en-de", "direction": "en-de"})
    return path


ALL_PRESETS = list(PRESETS)
