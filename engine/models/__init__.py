"""Layer 2, models: the model families (one module each), named presets, the factory that builds a model from a
JSON-able spec, the int8 output layer and the checkpoint format. Imports data."""
from __future__ import annotations

from dataclasses import asdict

from engine.models.base import Seq2Seq, select_rows
from engine.models.marian import MarianSeq2Seq, MarianSize
from engine.models.recurrent import RecurrentConfig, RecurrentSeq2Seq
from engine.models.transformer import TransformerConfig, TransformerSeq2Seq

FAMILIES = {
    "recurrent": (RecurrentConfig, RecurrentSeq2Seq),
    "transformer": (TransformerConfig, TransformerSeq2Seq),
    "hf-marian": (MarianSize, MarianSeq2Seq),
}

# name -> (family, config overrides). Sizes match: 256-wide embeddings, 2+2 recurrent or 3+3 attention layers.
PRESETS: dict[str, tuple[str, dict]] = {
    "rnn-tanh": ("recurrent", {"cell": "rnn-tanh", "attention": "none"}),
    "rnn-tanh-attn": ("recurrent", {"cell": "rnn-tanh", "attention": "luong"}),
    "rnn-relu-attn": ("recurrent", {"cell": "rnn-relu", "attention": "luong"}),
    "lstm": ("recurrent", {"cell": "lstm", "attention": "none"}),
    "lstm-attn": ("recurrent", {"cell": "lstm", "attention": "luong"}),
    "gru": ("recurrent", {"cell": "gru", "attention": "none"}),
    "gru-attn": ("recurrent", {"cell": "gru", "attention": "luong"}),
    "gru-bahdanau": ("recurrent", {"cell": "gru", "attention": "bahdanau"}),
    "transformer": ("transformer", {"positional": "sinusoidal"}),
    "transformer-learned": ("transformer", {"positional": "learned"}),
    "transformer-nopos": ("transformer", {"positional": "none"}),
    "hf-marian": ("hf-marian", {}),
}

SIZES = ("base", "tiny")  # base: each family's config defaults; tiny: its `tiny` overrides (tests, quick runs)


def model_class(preset: str) -> type[Seq2Seq]:
    """The Seq2Seq subclass of a preset's family."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    return FAMILIES[PRESETS[preset][0]][1]


def model_spec(preset: str, vocab_size: int, size: str = "base", **overrides) -> dict:
    """A JSON-able description {"preset", "family", "config"} that `build_model` turns into a model."""
    family_cls = model_class(preset)  # ValueError for an unknown preset
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")
    size_overrides = family_cls.tiny if size == "tiny" else {}
    family, preset_overrides = PRESETS[preset]
    config_cls = FAMILIES[family][0]
    config = config_cls(vocab_size=vocab_size, **{**size_overrides, **preset_overrides, **overrides})
    return {"preset": preset, "family": family, "config": asdict(config)}


def build_model(spec: dict) -> Seq2Seq:
    """The model a spec describes (randomly initialised)."""
    family = spec.get("family")
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}")
    config_cls, model_cls = FAMILIES[family]
    config = {**getattr(config_cls, "legacy_defaults", {}), **spec["config"]}  # a spec written before a field existed
    return model_cls(config_cls(**config))


__all__ = ["FAMILIES", "PRESETS", "SIZES", "Seq2Seq", "build_model", "model_class", "model_spec", "select_rows"]
