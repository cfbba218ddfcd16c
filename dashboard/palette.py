"""One colour per model on every page, readable by colour-blind readers: the Okabe–Ito palette, cool colours for
recurrent models and warm ones for attention-only models."""
from __future__ import annotations

import re
from functools import cache

from dashboard.i18n import language, t
from dashboard.names import PRESETS_IN_WORDS, plain_name

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency
SKY_BLUE, BLUE, GREEN = "#56B4E9", "#0072B2", "#009E73"  # recurrent
VERMILLION, ORANGE, PURPLE = "#D55E00", "#E69F00", "#CC79A7"  # Transformers
BLACK = "#000000"
COLORWAY = [BLUE, ORANGE, GREEN, VERMILLION, SKY_BLUE, PURPLE, BLACK, "#F0E442"]  # series that are not models

# a cell's colour; without attention the same colour, dashed
CELL_COLOURS = {"rnn-tanh": SKY_BLUE, "rnn-relu": BLACK, "lstm": BLUE, "gru": GREEN}
PRESET_COLOURS = {"transformer": VERMILLION, "transformer-learned": PURPLE, "transformer-nopos": ORANGE,
                  "hf-marian": PURPLE}
NO_ATTENTION = {"rnn-tanh", "lstm", "gru"}  # presets whose decoder sees one summary of the sentence

# the names the pages use for probes that are not presets (the Lab's gradient experiments)
PROBES = {"Plain RNN": "rnn-tanh", "ReLU RNN": "rnn-relu-attn", "rnn-relu": "rnn-relu-attn", "LSTM": "lstm",
          "GRU": "gru", "Transformer": "transformer"}


@cache
def names_to_presets(shown_in: str) -> dict[str, str]:
    """Every name a chart may give a preset, in English and in `shown_in` (built once per language, not per series)."""
    return {plain: preset for preset, (plain, _) in PRESETS_IN_WORDS.items()} | \
        {plain_name(preset): preset for preset in PRESETS_IN_WORDS} | PROBES | \
        {t(probe): preset for probe, preset in PROBES.items()}


def preset_of(name: str) -> str | None:
    """The preset a chart's series stands for: "gru-attn", "GRU + attention", "gru-attn (next set, incomplete)",
    "LSTM, forget bias 1" (-> lstm), in either language; None for anything else (a visitor's run)."""
    by_name = names_to_presets(language())
    for candidate in (name, re.split(r" \(|（", name)[0], re.split(r", |，", name)[0]):
        if candidate in PRESETS_IN_WORDS:
            return candidate
        if found := by_name.get(candidate):
            return found
    return None


def style(name: str) -> tuple[str, str] | None:
    """(colour, dash) of a model's series: the same model looks the same on every chart. None for other series (a
    visitor's run, "1 thread"): they take the palette's colours in turn (COLORWAY)."""
    preset = preset_of(name)
    if preset is None:
        return None
    if preset in PRESET_COLOURS:
        return PRESET_COLOURS[preset], "solid"
    cell = preset.removesuffix("-attn").removesuffix("-bahdanau")
    return CELL_COLOURS[cell], "dash" if preset in NO_ATTENTION else "solid"
