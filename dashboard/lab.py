"""The Lab page's experiments, one renderer each: a short explanation, the controls, a live run, the result."""
import streamlit as st
import torch

from dashboard import figures
from dashboard.models import list_models, load_translators
from dashboard.widgets import chart
from engine.data import corpora
from engine.experiments import lab
from engine.inference.translate import InputError, prepare_input


def gradient_flow() -> None:
    """Claim 2 at initialisation: the gradient reaching each source position, per architecture."""
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
              rows, "gradient-flow.csv", "grad-flow",
              "How much of the last output's error reaches each source word; lower on the left = vanishing.")
        st.caption("At initialisation LSTM and GRU fade too: their gates start half open. Does training teach the "
                   "gates to carry information? Measure it below.")


def gradient_after_training() -> None:
    """Claim 2 after training: which models learned to keep a path back to the first input."""
    st.markdown("**After training.** The same measurement on models that first learned a memory task: write the "
                "first two of 30 letters. How much of the first output letter's error reaches each input position? "
                "The usual LSTM remedy, a forget-gate bias of 1, runs beside the plain LSTM.")
    steps = st.select_slider("Training steps per model", [200, 400, 600, 800], 600, key="grad-trained-steps")
    if st.button("Train four models, then measure (about a minute)", key="run-grad-trained"):
        with st.spinner("Training the plain RNN, two LSTMs and the GRU on the memory task…"):
            st.session_state.grad_trained = lab.gradient_after_training(steps=steps)
    trained = st.session_state.get("grad_trained")
    if trained:
        rows = [{"model": m, "position": i, "grad_norm": g} for m, r in trained.items()
                for i, g in enumerate(r["gradient"])]
        chart(figures.lines({m: (list(range(len(r["gradient"]))), r["gradient"]) for m, r in trained.items()},
                            "Gradient reaching each input position, after training on the memory task",
                            "input position (0 = the letter to remember)", "gradient norm (log scale)", log_y=True),
              rows, "gradient-after-training.csv", "grad-trained",
              "After training: a model that learned to remember keeps a path back to position 0.")
        st.markdown(lab.memory_verdict(trained))


def clipping() -> None:
    """Claim 2's remedy: an exploding ReLU RNN trained with and without gradient clipping."""
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
                  rows, f"clipping-{metric}.csv", f"clip-{metric}",
                  f"The same exploding start trained twice: {title}, with and without clipping.")


def word_order() -> None:
    """Claim 3: a Transformer without positional encodings cannot see word order."""
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
            checks = {name: lab.word_order_check(translator, text) for name, translator in translators.items()}
            st.session_state.pe_rows = [{"model": name, "encoder state difference after shuffling": f"{c['gap']:.2e}",
                                         "translation": c["translation"],
                                         "translation of shuffled words": c["shuffled_translation"]}
                                        for name, c in checks.items()]
            st.session_state.pe_shuffled = lab.shuffle_words(text)
        except InputError as exc:
            st.info(str(exc))
    if st.session_state.get("pe_rows"):
        st.text(f"Shuffled: {st.session_state.pe_shuffled}")
        st.dataframe(st.session_state.pe_rows, hide_index=True, width="stretch")
        st.caption("State difference: largest gap between the encoder states of the shuffled subwords and the shuffled "
                   "states of the original (0 up to rounding = order is invisible to the encoder).")


def influence() -> list:
    """Saliency: which source words sway each output word of a typed sentence. Returns the models picked."""
    st.markdown("""
Which source words sway each output word? For a word a model wrote, we measure how much its probability would
change if each source word's embedding moved (the gradient's size: *saliency*). Click an output word to see it
over the sentence. Then, over many test sentences: how much influence reaches words far away?
""")
    shipped = [e for e in list_models() if e.shipped]
    defaults = [e.name for e in shipped if e.name in ("gru", "gru-attn", "transformer")]
    picked = st.multiselect("Models", [e.name for e in shipped], default=defaults, key="influence-models")
    sentence = st.text_input("Sentence", "We are going to the station because the weather is nice.",
                             key="influence-sentence")
    if st.button("Measure influence", key="run-influence"):
        try:
            text, _ = prepare_input(sentence)
            translators, errors = load_translators([e for e in shipped if e.name in picked])
            for name, message in errors.items():
                st.error(f"{name}: {message}")
            with st.spinner("One backward pass per output word…"):
                st.session_state.influence = {n: lab.output_influence(t, text) for n, t in translators.items()}
        except InputError as exc:
            st.info(str(exc))
    for name, result in st.session_state.get("influence", {}).items():
        outputs = result["output_tokens"]
        index = st.pills(f"{name} wrote (click a word)", list(range(len(outputs))), default=0,
                         format_func=lambda i, o=outputs: o[i], key=f"influence-word-{name}") or 0
        row = result["influence"][index]
        chart(figures.bars([f"{i}:{t}" for i, t in enumerate(result["source_tokens"])], row,
                           figures.as_text(f"{name}: what swayed “{outputs[index]}”"), "gradient norm", ".2g",
                           x_title="source token"),
              [{"source": t, "influence": v} for t, v in zip(result["source_tokens"], row)],
              f"influence-{name}.csv", f"influence-{name}",
              "Taller bars: source words that sway this output word more.")
    return [e for e in shipped if e.name in picked]


def influence_by_distance(models: list) -> None:
    """How far each of `models`' influence reaches, averaged over test sentences."""
    count = st.select_slider("Test sentences", [10, 20, 40], 20, key="influence-count")
    if st.button("Average over test sentences", key="run-distance"):
        sentences = [s for s, _ in corpora.load_split("ding-en-de", "test", "en-de")[:count]]
        translators, _ = load_translators(models)
        bar = st.progress(0.0)
        curves = {}
        for i, (name, translator) in enumerate(translators.items()):
            bar.progress(i / len(translators), f"{name}…")
            curves[name] = lab.influence_by_distance(translator, sentences)
        bar.empty()
        st.session_state.distance = (curves, count)
    if st.session_state.get("distance"):
        curves, count = st.session_state.distance
        rows = [{"model": n, "distance": d, "share": v} for n, c in curves.items() for d, v in enumerate(c)]
        chart(figures.lines({n: (list(range(len(c))), c) for n, c in curves.items()},
                            f"Influence against distance ({count} ding-en-de test sentences)",
                            "distance between source and output position (tokens)",
                            "average share of an output word's influence", mode="lines+markers"),
              rows, "influence-by-distance.csv", "distance",
              "How much of an output word's influence comes from source words at each distance.")
        st.caption("A flatter curve reaches further: distant source words still sway the output. A steep one "
                   "listens mostly to nearby positions. Measured live on the shipped models.")


def parallelism() -> None:
    """Claim 1: time per training step with one thread and with all, as sentences grow."""
    st.markdown("""
Time per training step as sentences grow, for a GRU and a Transformer of the same width, with 1 thread and with
all threads of this server. A model that parallelises well gains more from the extra threads.
""")
    if st.button("Run parallelism experiment", key="run-par"):
        bar = st.progress(0.0)
        st.session_state.parallel = lab.step_times(("gru-attn", "transformer"), (8, 32, 64),
                                                   sorted({1, torch.get_num_threads()}), on_progress=bar.progress)
    rows = st.session_state.get("parallel")
    if rows:
        series = figures.grouped_series(rows, lambda r: f"{r['preset']}, {r['threads']} thread(s)", "length",
                                        "ms_per_step")
        chart(figures.lines(series, "Wall time per training step (batch 16)", "sentence length (tokens)",
                            "milliseconds per step", mode="lines+markers"), rows, "parallelism.csv", "parallel",
              "Time per training step as sentences grow, with one thread and with all.")
