"""Small shared widgets: page intros, CSV downloads, data-source notes."""
from __future__ import annotations

import csv
import io
from contextlib import contextmanager

import streamlit as st


def intro(title: str, text: str) -> None:
    """A page's title and its opening paragraph."""
    st.title(title)
    st.markdown(text)


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
    st.download_button("Download data (CSV)", to_csv(rows), file_name=filename, mime="text/csv", key=f"csv-{key}",
                       disabled=not rows, help="The picture: the camera icon at the chart's top right saves a PNG.")


def source_note(text: str) -> None:
    """A caption naming the file (and command) a number came from."""
    st.caption(f":material/description: {text}")
