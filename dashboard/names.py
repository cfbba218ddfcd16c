"""What each preset is called on the pages, and what it is, in plain words (no streamlit)."""
from __future__ import annotations

from engine.models import PRESETS

# preset -> (plain name, one line on what it is)
PRESETS_IN_WORDS: dict[str, tuple[str, str]] = {
    "rnn-tanh": ("Plain RNN", "the simplest recurrent cell (tanh), no attention"),
    "rnn-tanh-attn": ("Plain RNN + attention", "the baseline: the simplest recurrent cell, which learns least"),
    "rnn-relu-attn": ("ReLU RNN + attention", "the simplest recurrent cell with ReLU instead of tanh"),
    "lstm": ("LSTM", "a recurrent cell with gates that decide what to keep (long short-term memory), no attention"),
    "lstm-attn": ("LSTM + attention", "a gated recurrent cell (long short-term memory) that looks back at every "
                                      "source word"),
    "gru": ("GRU", "a lighter gated recurrent cell (gated recurrent unit), no attention: the decoder sees one "
                   "summary of the sentence"),
    "gru-attn": ("GRU + attention", "a gated recurrent cell that looks back at every source word (dot-product "
                                    "attention)"),
    "gru-bahdanau": ("GRU + additive attention", "a GRU with the original, additive attention of Bahdanau et al. "
                                                 "(2015)"),
    "transformer": ("Transformer", "attention only, with word positions added (sine waves)"),
    "transformer-learned": ("Transformer, learned positions", "attention only, with word positions it learns"),
    "transformer-nopos": ("Transformer without word positions", "attention only, and no word positions: it reads a "
                                                                "bag of words"),
    "hf-marian": ("Marian-style Transformer", "Hugging Face's MarianMT architecture, the one behind Helsinki-NLP's "
                                              "opus-mt translators, trained here from scratch with the same budget "
                                              "(not their pretrained model)"),
}
assert PRESETS_IN_WORDS.keys() == PRESETS.keys(), "every preset needs a plain name"


def plain_name(preset_or_name: str) -> str:
    """'gru-attn' -> 'GRU + attention'; a name that is not a preset (a visitor's run) stays as it is."""
    return PRESETS_IN_WORDS.get(preset_or_name, (preset_or_name, ""))[0]


def described(preset: str) -> str:
    """'GRU + attention: a gated recurrent cell that …' (for pick lists)."""
    name, what = PRESETS_IN_WORDS[preset]
    return f"{name}: {what}"
