"""Links that reproduce a view: a page's inputs live in the URL's query string (widgets bound with
`bind="query-params"`, their key is the parameter's name), a "Copy link" control, teacher mode (`?hide=`) and a
short notice for a link's values this page could not use.

Streamlit checks a bound widget's value against its options and range, drops a bad one from the URL and keeps the
default; `arrived()` and `refused()` turn that into a notice. Nothing from the URL reaches markdown: a notice names
only the page's own parameter names.
"""
from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from dashboard.i18n import language, t

BIND = "query-params"


def arrived() -> dict[str, list[str]]:
    """The query string this run of the page arrived with (read it before creating any bound widget)."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


def refused(before: dict[str, list[str]], keys: list[str]) -> None:
    """After the page's bound widgets exist: a short notice for each of `keys` whose value in the link was not valid
    here (Streamlit dropped it from the URL, and the widget shows its default)."""
    dropped = [key for key in keys if key in before and key not in st.query_params]
    if dropped:
        st.caption(":material/link_off: " + t("This link's {names} could not be used here: the default is shown "
                                              "instead.", names=", ".join(dropped)))


def hide_controls(keys: list[str]) -> None:
    """Teacher mode: `?hide=beam,shuffle` hides those of the page's controls (`keys`) from the class; the link's
    values still apply. Unknown names are ignored, so nothing from the URL reaches the page's style."""
    hidden = [k for k in st.query_params.get("hide", "").split(",") if k in keys]
    if hidden:
        st.html("<style>" + " ".join(f".st-key-{k} {{display: none}}" for k in hidden) + "</style>")


def current_link() -> str | None:
    """This view's address with every input it holds now, its language included (None outside a browser session)."""
    base = st.context.url
    if not base:
        return None
    pairs = [(key, value) for key in st.query_params for value in st.query_params.get_all(key)]
    if "lang" not in st.query_params:
        pairs.append(("lang", language()))
    query = urlencode(pairs)
    return f"{base}?{query}" if query else base


def copy_link(keys: list[str]) -> None:
    """The "Copy link" control: the view's address in a box with a copy button, and how to hide controls with it."""
    with st.popover(t("Copy link"), icon=":material/link:"):
        link = current_link()
        if link is None:
            st.caption(t("Open this page in a browser to get its link."))
            return
        st.code(link, language=None, wrap_lines=True)
        st.caption(t("Anyone who opens this link sees this page with these settings, in this language. Teachers: add "
                     "`&hide=` and names from {names}, separated by commas, to hide those controls from the class.",
                     names=", ".join(f"`{k}`" for k in keys)))
