"""Seq2Seq Arena: `streamlit run streamlit_app.py`."""
import importlib

import streamlit as st

import dashboard  # the light package; its flag below outlives this script's reruns
from dashboard.i18n import language_switch, t

HEAVY = "dashboard.models"  # every page needs it; with it come torch, transformers and the engine (seconds to import)


def to_translate() -> None:
    """/translate: the Translate page is the default page, served at /; a link or bookmark to /translate?… (the
    page's name) lands there with its query string instead of on "Page not found"."""
    st.switch_page("views/translate.py", query_params={k: st.query_params.get_all(k) for k in st.query_params})


def main() -> None:
    st.set_page_config(page_title="Seq2Seq Arena", page_icon=":material/translate:", layout="wide")
    language_switch()
    # url_path fixed: a page's address (and every link to it) is the same in both languages
    pages = [
        st.Page("views/story.py", title=t("Why Transformers?"), icon=":material/auto_stories:", url_path="story"),
        st.Page("views/translate.py", title=t("Translate"), icon=":material/translate:", default=True,
                url_path="home"),  # served at /; its name is free for the redirect below
        st.Page("views/arena.py", title=t("Arena"), icon=":material/how_to_vote:", url_path="arena"),
        st.Page("views/playground.py", title=t("Playground"), icon=":material/toys:", url_path="playground"),
        st.Page("views/quality.py", title=t("Quality"), icon=":material/grading:", url_path="quality"),
        st.Page("views/speed.py", title=t("Speed & scaling"), icon=":material/speed:", url_path="speed"),
        st.Page("views/training.py", title=t("Training"), icon=":material/model_training:", url_path="training"),
        st.Page("views/lab.py", title=t("Lab"), icon=":material/science:", url_path="lab"),
        st.Page(to_translate, title=t("Translate"), url_path="translate", visibility="hidden"),
    ]
    page = st.navigation(pages)
    if not getattr(dashboard, "libraries_loaded", False):  # the first visits since the server started: a title at
        first_view = st.empty()                              # once, not a blank page while the libraries load
        with first_view.container():
            st.title(page.title)
            st.caption(":material/hourglass_top: " + t("Loading the translation libraries (only the first visits "
                                                          "after the server starts wait for this)…"))
        importlib.import_module(HEAVY)  # a second visitor meanwhile waits here, under their own title
        dashboard.libraries_loaded = True
        first_view.empty()
    page.run()


if __name__ == "__main__":
    main()
