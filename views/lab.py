import streamlit as st

from dashboard import lab, links
from dashboard.i18n import N_, t
from dashboard.widgets import intro

intro(t("Lab"), t("""
Four experiments you can run here, live on this server: do gradients vanish in recurrent networks (and what
helps), does a Transformer without positional encodings lose word order, how far does each model's attention
reach, and do longer sentences cost RNNs more time? Most finish in seconds; one trains four small models first
and takes about a minute (its button says so).
"""))

link = links.arrived()
LINKED = ["experiment", "grad-trained-steps", "grad-length", "grad-init", "pe-sentence", "pe-how", "pe-reordered",
          "influence-models", "influence-sentence", "influence-count"]
links.hide_controls(LINKED)
links.copy_link(LINKED)
TABS = [N_("Vanishing gradients"), N_("Positional encoding"), N_("Influence vs distance"), N_("Parallelism")]
tab_gradients, tab_positions, tab_influence, tab_parallel = st.tabs([t(tab) for tab in TABS], key="experiment",
                                                                    bind=links.BIND)
with tab_gradients:
    lab.gradient_after_training()
    lab.gradient_flow()
    lab.clipping()
with tab_positions:
    st.markdown(t("Without positional encodings a Transformer's encoder sees a **bag of words**: put the same words "
                  "in another order and its internal states are the same states, moved. With them, order changes "
                  "everything."))
    lab.word_order()
with tab_influence:
    lab.influence_by_distance(lab.influence())
with tab_parallel:
    lab.parallelism()
links.refused(link, LINKED)
