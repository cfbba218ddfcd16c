"""The least a Translate page can draw: a sentence box, a button and one line per model, translated by the same
models through the same micro-batcher as the real page (`python -m tests.load_floor` races the two)."""
import streamlit as st

from dashboard import translations
from dashboard.models import list_models, load_translators

text = st.text_area("Sentence")
if st.button("Translate", type="primary"):
    translators, _ = load_translators(list_models())
    st.session_state.answer = translations.translate_everything(translators, {"original": text}, beam=1)
if answer := st.session_state.get("answer"):
    for name in answer["parameters"]:
        st.text(answer["results"][name, "original"].text)
    st.subheader("Where did each model look?")  # the marker the load test waits for, as on the real page
