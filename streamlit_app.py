"""Seq2Seq Arena: `streamlit run streamlit_app.py`."""
import streamlit as st


def main() -> None:
    st.set_page_config(page_title="Seq2Seq Arena", page_icon=":material/translate:", layout="wide")
    pages = [
        st.Page("views/story.py", title="Why Transformers?", icon=":material/auto_stories:"),
        st.Page("views/translate.py", title="Translate", icon=":material/translate:", default=True),
        st.Page("views/arena.py", title="Arena", icon=":material/how_to_vote:"),
        st.Page("views/playground.py", title="Playground", icon=":material/toys:"),
        st.Page("views/quality.py", title="Quality", icon=":material/grading:"),
        st.Page("views/speed.py", title="Speed & scaling", icon=":material/speed:"),
        st.Page("views/training.py", title="Training", icon=":material/model_training:"),
        st.Page("views/lab.py", title="Lab", icon=":material/science:"),
    ]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
