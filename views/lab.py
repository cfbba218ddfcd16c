import random

import streamlit as st
import torch

from dashboard import figures
from dashboard.models import list_models, load_translators
from dashboard.widgets import chart, intro
from engine import lab
from engine.bench import num_threads, training_throughput
from engine.tokenizer import encode
from engine.translate import InputError, prepare_input

intro("Lab", """
Three small experiments you can run here, one per claim: do gradients vanish in recurrent networks, does a
Transformer without positional encodings lose word order, and do longer sentences cost RNNs more time?
Each runs live on this server in a few seconds.
""")

tab_gradients, tab_positions, tab_parallel = st.tabs(["Vanishing gradients", "Positional encoding", "Parallelism"])

with tab_gradients:
    st.markdown("""
How much of the **last** output word's error reaches each **source** word? A freshly initialised model
(encoder reading left to right, no attention) reads a random sentence, and we measure the gradient norm at
every source position. Where it shrinks towards position 0, the first words barely learn: vanishing gradients.
Compare the initialisations: PyTorch's default recurrent weights against orthogonal ones (a remedy). A
Transformer's attention gives every position a direct path, so its curve stays flat.
""")
    c1, c2 = st.columns(2)
    length = c1.slider("Source length (tokens)", 10, 120, 50, key="grad-length")
    init = c2.segmented_control("Recurrent initialisation", ["orthogonal", "default"], default="orthogonal",
                                key="grad-init") or "orthogonal"
    if st.button("Run gradient-flow experiment", key="run-grad"):
        with st.spinner("Measuring…"):
            st.session_state.grad_flow = {p: lab.gradient_by_source_position(p, length, init=init)
                                          for p in lab.GRADIENT_FLOW_PRESETS}
            st.session_state.grad_init = init
    flow = st.session_state.get("grad_flow")
    if flow:
        rows = [{"model": p, "position": i, "grad_norm": g} for p, gs in flow.items() for i, g in enumerate(gs)]
        labels = {"rnn-relu-attn": "rnn-relu"}
        chart(figures.lines({labels.get(p, p): (list(range(len(gs))), gs) for p, gs in flow.items()},
                            f"Gradient reaching each source position ({st.session_state.grad_init} initialisation)",
                            "source position (0 = first word)", "gradient norm (log scale)", log_y=True),
              rows, "gradient-flow.csv", "grad-flow")
        st.caption("LSTM and GRU start with half-open gates, so at initialisation they fade too; training teaches the "
                   "gates to carry information, which plain RNNs cannot learn.")

    st.markdown("**Clipping an exploding run.** A ReLU RNN whose recurrent weights start too large (×2), trained "
                "twice on the same data with the same learning rate: without clipping, and with the gradient norm "
                "clipped to 1.")
    if st.button("Run clipping experiment", key="run-clip"):
        with st.spinner("Training twice…"):
            st.session_state.clipping = {"no clipping": lab.clipping_run(0.0), "clipped at 1.0": lab.clipping_run(1.0)}
    clipping = st.session_state.get("clipping")
    if clipping:
        rows = [{"run": n, **r} for n, h in clipping.items() for r in h]
        for name, history in clipping.items():
            if len(history) < 60:
                st.caption(f"{name}: the loss or gradient overflowed to inf/NaN after step {len(history)}; "
                           "the run stopped.")
        for metric, title in (("grad_norm", "gradient norm before clipping (log scale)"), ("loss", "training loss")):
            chart(figures.lines({n: ([r["step"] for r in h], [r[metric] for r in h]) for n, h in clipping.items()},
                                title, "step", title, log_y=metric == "grad_norm"),
                  rows, f"clipping-{metric}.csv", f"clip-{metric}")

with tab_positions:
    st.markdown("""
Without positional encodings a Transformer's encoder sees a **bag of words**: shuffle the input and its
internal states are exactly the shuffled states of the original. With them, order changes everything.
""")
    entries = [e for e in list_models() if e.name in ("transformer", "transformer-nopos")]
    sentence = st.text_input("Sentence", "The dog bites the man.", key="pe-sentence")
    if not entries:
        st.info("This needs the shipped transformer and transformer-nopos checkpoints.")
    elif st.button("Compare", key="run-pe"):
        try:
            text, _ = prepare_input(sentence)
            translators, errors = load_translators(entries)
            for name, message in errors.items():
                st.error(f"{name}: {message}")
            words = text.split()
            shuffled = words[:]
            random.Random(1).shuffle(shuffled)
            rows = []
            for name, translator in translators.items():
                ids = encode(translator.tokenizer, [text])[0]
                perm = list(range(len(ids) - 1))
                random.Random(1).shuffle(perm)
                gap = lab.permutation_gap(translator.model, ids, perm + [len(ids) - 1])
                originals = translator.translate([text, " ".join(shuffled)])
                rows.append({"model": name, "encoder state difference after shuffling": f"{gap:.2e}",
                             "translation": originals[0].text, "translation of shuffled words": originals[1].text})
            st.session_state.pe_rows = rows
            st.session_state.pe_shuffled = " ".join(shuffled)
        except InputError as exc:
            st.info(str(exc))
    if st.session_state.get("pe_rows"):
        st.text(f"Shuffled: {st.session_state.pe_shuffled}")
        st.dataframe(st.session_state.pe_rows, hide_index=True, width="stretch")
        st.caption("State difference: largest gap between the encoder states of the shuffled subwords and the shuffled "
                   "states of the original (0 up to rounding = order is invisible to the encoder).")

with tab_parallel:
    st.markdown("""
Time per training step as sentences grow, for a GRU and a Transformer of the same width, with 1 thread and with
all threads of this server. A model that parallelises well gains more from the extra threads.
""")
    if st.button("Run parallelism experiment", key="run-par"):
        bar, rows = st.progress(0.0), []
        all_threads = torch.get_num_threads()
        jobs = [(p, n, t) for p in ("gru-attn", "transformer") for n in (8, 32, 64) for t in sorted({1, all_threads})]
        for i, (preset, n, threads) in enumerate(jobs):
            bar.progress(i / len(jobs), f"{preset}, length {n}, {threads} thread(s)")
            with num_threads(threads):
                row = training_throughput(preset, n, batch=16, repeats=2)
            rows.append({**row, "threads": threads, "ms_per_step": 1000 * row["seconds"]})
        bar.progress(1.0, "done")
        st.session_state.parallel = rows
    rows = st.session_state.get("parallel")
    if rows:
        series = {f"{p}, {t} thread(s)": ([r["length"] for r in rows if r["preset"] == p and r["threads"] == t],
                                          [r["ms_per_step"] for r in rows if r["preset"] == p and r["threads"] == t])
                  for p in ("gru-attn", "transformer") for t in sorted({r["threads"] for r in rows})}
        chart(figures.lines(series, "Wall time per training step (batch 16)", "sentence length (tokens)",
                            "milliseconds per step", mode="lines+markers"), rows, "parallelism.csv", "parallel")
