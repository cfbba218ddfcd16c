"""Small shared widgets: page intros, CSV downloads, data-source notes."""
from __future__ import annotations

import csv
import io
from contextlib import contextmanager

import streamlit as st

from dashboard.i18n import t
from engine.inference.translate import InputError, chinese_share, prepare_input

CHINESE = 0.3  # the share of Chinese characters among the letters above which text counts as Chinese


def intro(title: str, text: str) -> None:
    """A page's title and its opening paragraph."""
    st.title(title)
    st.markdown(text)


def read_sentence(text: str) -> str | None:
    """The visitor's text made ready for the models (prepare_input), or None with a message saying why not: nothing
    to translate, or a sentence in Chinese, which models of English and German cannot read."""
    try:
        sentence, notice = prepare_input(text)
    except InputError as exc:
        st.info(t(exc.message))
        return None
    if chinese_share(sentence) >= CHINESE:
        st.info(t("This sentence is written in Chinese. The models here learned English and German only and have "
                  "never seen Chinese characters, so what they wrote would not be a translation. Type the sentence in "
                  "English (or in German for the German → English direction)."))
        return None
    if notice:
        st.warning(t(notice))
    return sentence


@contextmanager
def waiting_note(text: str):
    """A still line of text shown while the block runs, then removed. Not st.spinner: a browser drawing without a
    GPU spent about a tenth of a core per waiting tab on its animation, which 20 tabs on one 2-core machine took from
    the server."""
    note = st.empty()
    note.caption(f":material/hourglass_top: {text}")
    try:
        yield
    finally:
        note.empty()


def to_csv(rows: list[dict]) -> str:
    """Rows as CSV text (for download buttons)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def chart(fig, rows: list[dict], filename: str, key: str, caption: str) -> None:
    """A plotly chart, one plain line saying what it shows (also its text for screen readers), and downloads: the
    data as CSV, the picture as PNG (the chart's camera icon, named after the CSV)."""
    picture = {"toImageButtonOptions": {"format": "png", "filename": filename.removesuffix(".csv"), "scale": 2},
               "displaylogo": False}
    st.plotly_chart(fig, width="stretch", key=f"chart-{key}", config=picture, alt=caption)
    st.caption(caption)
    st.download_button(t("Download data (CSV)"), to_csv(rows), file_name=filename, mime="text/csv", key=f"csv-{key}",
                       disabled=not rows, help=t("The picture: the camera icon at the chart's top right saves a PNG."))


def table(rows: list[dict]) -> None:
    """Rows as a table whose column names are in the page's language (the CSV download keeps the English keys)."""
    st.dataframe([{t(column): value for column, value in row.items()} for row in rows], hide_index=True,
                 width="stretch")


def source_note(text: str) -> None:
    """A caption naming the file (and command) a number came from."""
    st.caption(f":material/description: {text}")
