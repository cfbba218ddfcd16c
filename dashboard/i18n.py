"""English and 简体中文: every user-visible string of the dashboard goes through `t()`.

English is the source language. The code holds each string's English text inside `t("…")` (or `N_("…")` for a
constant that is translated where it is shown), and `dashboard/locales/zh.po`, a gettext catalog any PO editor opens,
holds its Chinese. `{name}` placeholders are filled after translation, so each language orders them its own way.
`python -m pytest tests/test_i18n.py` fails on a string missing from the catalog and on a literal left outside `t()`.

The language comes from the link (`?lang=zh`), else the browser's language, else English; the sidebar switch
changes it, and every copied link carries it. Bound widgets keep their option labels in the address, so a link's
values are in its language; a link without `?lang=` (written before the switch existed) opens in English.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st
from babel.messages.pofile import read_po
from streamlit.runtime.scriptrunner import get_script_run_ctx

LANGUAGES = {"en": "English", "zh": "简体中文"}
CATALOGS = Path(__file__).parent / "locales"  # <language>.po


def N_(text: str) -> str:  # noqa: N802 (gettext's name for "mark for translation, translate later")
    """Marks a constant for the catalog; `t(constant)` translates it where it is shown."""
    return text


@cache
def catalog(language: str) -> dict[str, str]:
    """English text -> its translation (empty for English, and for entries not translated yet)."""
    if language == "en":
        return {}
    with open(CATALOGS / f"{language}.po", "rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id and m.string}


def browser_language() -> str:
    """The visitor's browser language if we have it, else English."""
    locale = (st.context.locale or "").lower()
    return next((code for code in LANGUAGES if locale.startswith(code)), "en")


def language() -> str:
    """The language this page is shown in (set by `language_switch()` at the top of every run); English outside a
    page (the CLI, tests of figure builders)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return "en"
    chosen = st.session_state.get("lang")
    return chosen if chosen in LANGUAGES else browser_language()


def t(text: str, **values) -> str:
    """`text` in the page's language, its `{placeholders}` filled with `values`. A message from the engine keeps its
    English template and values (engine.messages.Message), so it is translated the same way."""
    template, values = (text.template, {**text.values, **values}) if hasattr(text, "template") else (text, values)
    translated = catalog(language()).get(template, template)
    return translated.format(**values) if values else translated


def language_switch() -> str:
    """The sidebar's language control; a link's `?lang=` sets it, and the choice goes back into the address (so every
    copied link carries it). Returns the language of this run."""
    if "lang" not in st.session_state:  # a link without ?lang= predates the switch: its values are English labels
        st.session_state["lang"] = "en" if len(st.query_params) else browser_language()
    asked = st.query_params.get("lang")
    if asked in LANGUAGES and asked != st.session_state.get("lang-in-link"):  # a link (or an edited address) wins
        st.session_state["lang"] = asked
    st.sidebar.segmented_control("Language · 语言", list(LANGUAGES), key="lang", format_func=LANGUAGES.get)
    chosen = language()
    st.query_params["lang"] = st.session_state["lang-in-link"] = chosen
    return chosen


def millions(count: float, digits: int | None = 1) -> str:
    """A large count as the page's language says it: "12.3 million" in English (`digits` after the point, or as few
    as needed with None), "1230万" in Chinese, which counts in 万 (ten thousand) and 亿 (a hundred million)."""
    if language() == "zh":
        return f"{count / 1e8:.{digits or 1}f}亿" if count >= 1e8 else f"{count / 1e4:.0f}万"
    return f"{count / 1e6:g} million" if digits is None else f"{count / 1e6:.{digits}f} million"
