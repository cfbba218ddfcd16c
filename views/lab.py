import streamlit as st

from dashboard import lab
from dashboard.widgets import intro

intro("Lab", """
Three small experiments you can run here, one per claim: do gradients vanish in recurrent networks, does a
Transformer without positional encodings lose word order, and do longer sentences cost RNNs more time?
Each runs live on this server in a few seconds.
""")

tab_gradients, tab_positions, tab_influence, tab_parallel = st.tabs(
    ["Vanishing gradients", "Positional encoding", "Influence vs distance", "Parallelism"])
with tab_gradients:
    lab.gradient_flow()
    lab.gradient_after_training()
    lab.clipping()
with tab_positions:
    lab.word_order()
with tab_influence:
    lab.influence_by_distance(lab.influence())
with tab_parallel:
    lab.parallelism()
