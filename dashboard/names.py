"""What each preset is called on the pages, and what it is, in plain words (in the page's language)."""
from __future__ import annotations

from dashboard.i18n import N_, t
from engine.models import PRESETS

# preset -> (plain name, one line on what it is)
PRESETS_IN_WORDS: dict[str, tuple[str, str]] = {
    "rnn-tanh": (N_("Plain RNN"), N_("the simplest recurrent cell (tanh), no attention")),
    "rnn-tanh-attn": (N_("Plain RNN + attention"),
                      N_("the baseline: the simplest recurrent cell, which learns least")),
    "rnn-relu-attn": (N_("ReLU RNN + attention"), N_("the simplest recurrent cell with ReLU instead of tanh")),
    "lstm": (N_("LSTM"),
             N_("a recurrent cell with gates that decide what to keep (long short-term memory), no attention")),
    "lstm-attn": (N_("LSTM + attention"),
                  N_("a gated recurrent cell (long short-term memory) that looks back at every source word")),
    "gru": (N_("GRU"), N_("a lighter gated recurrent cell (gated recurrent unit), no attention: the decoder sees one "
                          "summary of the sentence")),
    "gru-attn": (N_("GRU + attention"),
                 N_("a gated recurrent cell that looks back at every source word (dot-product attention)")),
    "gru-bahdanau": (N_("GRU + additive attention"),
                     N_("a GRU with the original, additive attention of Bahdanau et al. (2015)")),
    "transformer": (N_("Transformer"), N_("attention only, with word positions added (sine waves)")),
    "transformer-learned": (N_("Transformer, learned positions"), N_("attention only, with word positions it learns")),
    "transformer-nopos": (N_("Transformer without word positions"),
                          N_("attention only, and no word positions: it reads a bag of words")),
    "hf-marian": (N_("Marian-style Transformer"),
                  N_("Hugging Face's MarianMT architecture, the one behind Helsinki-NLP's opus-mt translators, "
                     "trained here from scratch with the same budget (not their pretrained model)")),
}
assert PRESETS_IN_WORDS.keys() == PRESETS.keys(), "every preset needs a plain name"


def plain_name(preset_or_name: str) -> str:
    """'gru-attn' -> 'GRU + attention'; a name that is not a preset (a visitor's run) stays as it is."""
    return t(PRESETS_IN_WORDS[preset_or_name][0]) if preset_or_name in PRESETS_IN_WORDS else preset_or_name


def what_it_is(preset: str | None) -> str:
    """One line on what the preset is ('' for a name that is not a preset)."""
    return t(PRESETS_IN_WORDS[preset][1]) if preset in PRESETS_IN_WORDS else ""


def described(preset: str) -> str:
    """'GRU + attention: a gated recurrent cell that …' (for pick lists)."""
    return t("{name}: {what}", name=plain_name(preset), what=what_it_is(preset))
