"""The Lab page's experiments, one renderer each: a short explanation, the controls, a live run, the result."""
import re

import streamlit as st
import torch

from dashboard import figures, links
from dashboard.models import list_models, load_json, load_translators
from dashboard.names import plain_name
from dashboard.widgets import chart, source_note
from engine.data import corpora
from engine.experiments import lab
from engine.inference.translate import InputError, prepare_input
from engine.paths import shown

PROBE_NAMES = {"rnn-tanh": "Plain RNN", "rnn-relu-attn": "ReLU RNN", "lstm": "LSTM", "gru": "GRU",
               "transformer": "Transformer"}  # the probes run without attention, so their presets' names would mislead


def probe_label(label: str) -> str:
    """A toy contestant's label in plain words: "lstm, forget bias 1" -> "LSTM, forget bias 1"."""
    family, _, rest = label.partition(", ")
    return PROBE_NAMES.get(family, family) + (f", {rest}" if rest else "")


def gradient_after_training() -> None:
    """Claim 2 after training, first: which models learned to keep a path back to the first input. The shipped
    result (`python -m engine gradients`) shows at once; a button trains the four models again here."""
    st.markdown("""
**After training: who keeps a path back to the first word?** Four small models learned a memory task: read 30
letters, then write the first two. How much of the first output letter's error reaches each input position? In a
plain RNN the gradient fades at every step back, so the first letters barely learn: a *vanishing gradient*. The
GRU's gates learn to carry it across. The usual LSTM remedy, a forget-gate bias of 1, runs beside the plain LSTM.
""")
    live = st.session_state.get("grad_trained")
    shipped = load_json(lab.AFTER_TRAINING_FILE) if lab.AFTER_TRAINING_FILE.is_file() else None
    trained = {probe_label(m): r for m, r in (live or (shipped or {}).get("models") or {}).items()}
    if trained:
        rows = [{"model": m, "position": i, "grad_norm": g} for m, r in trained.items()
                for i, g in enumerate(r["gradient"])]
        chart(figures.lines({m: (list(range(len(r["gradient"]))), r["gradient"]) for m, r in trained.items()},
                            "Gradient reaching each input position, after training on the memory task",
                            "input position (0 = the letter to remember)", "gradient norm (log scale)", log_y=True),
              rows, "gradient-after-training.csv", "grad-trained",
              "After training: a model that learned to remember keeps a path back to position 0; lower on the left "
              "means the first letters barely learn.")
        st.markdown(lab.memory_verdict(trained))
        if live:
            st.caption("Trained just now on this server.")
        else:
            source_note(f"{shown(lab.AFTER_TRAINING_FILE)}, made by `{shipped['command']}` on "
                        f"{shipped['machine']['cpu']} ({shipped['steps']} training steps per model).")
    c1, c2 = st.columns([2, 1])
    steps = c1.select_slider("Training steps per model", [200, 400, 600, 800], 600, key="grad-trained-steps",
                             bind=links.BIND)
    if c2.button("Train the four again here (about a minute)", key="run-grad-trained"):
        with st.spinner("Training the plain RNN, two LSTMs and the GRU on the memory task…"):
            st.session_state.grad_trained = lab.gradient_after_training(steps=steps)
        st.rerun()


def gradient_flow() -> None:
    """Claim 2 at initialisation: the gradient reaching each source position, per architecture."""
    st.markdown("""
**At initialisation, before any training.** How much of the **last** output word's error reaches each **source**
word of a freshly initialised model (encoder reading left to right, no attention)? With PyTorch's default weights
every recurrent model fades, the plain RNN most. Orthogonal recurrent weights (a remedy) keep the plain RNN's
gradient almost flat at first, while the gated cells, whose gates start half closed, still fade: their remedy is
training, above. A Transformer's attention gives every position a direct path, so its curve stays flat.
""")
    c1, c2 = st.columns(2)
    length = c1.slider("Source length (tokens)", 10, 120, 50, key="grad-length", bind=links.BIND)
    init = c2.segmented_control("Initialisation of the gated cells", ["default", "orthogonal"], default="default",
                                key="grad-init", bind=links.BIND) or "default"
    if st.button("Run gradient-flow experiment", key="run-grad"):
        with st.spinner("Measuring…"):
            other = "orthogonal" if init == "default" else "default"
            flow = {f"Plain RNN, {init} init": lab.gradient_by_source_position("rnn-tanh", length, init=init),
                    f"Plain RNN, {other} init": lab.gradient_by_source_position("rnn-tanh", length, init=other)}
            flow |= {PROBE_NAMES[p]: lab.gradient_by_source_position(p, length, init=init)
                     for p in lab.GRADIENT_FLOW_PRESETS if p != "rnn-tanh"}
            st.session_state.grad_flow, st.session_state.grad_init = flow, init
    flow = st.session_state.get("grad_flow")
    if flow:
        rows = [{"model": m, "position": i, "grad_norm": g} for m, gs in flow.items() for i, g in enumerate(gs)]
        chart(figures.lines({m: (list(range(len(gs))), gs) for m, gs in flow.items()},
                            f"Gradient reaching each source position at initialisation "
                            f"({st.session_state.grad_init} init)", "source position (0 = first word)",
                            "gradient norm (log scale)", log_y=True),
              rows, "gradient-flow.csv", "grad-flow",
              "How much of the last output's error reaches each source word; lower on the left = vanishing.")


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


SAME_STATES = 1e-4  # encoder states this close are the same up to float rounding


def word_order(key: str = "pe") -> None:
    """Claim 3: the Transformer with and without positional encodings on a sentence and the same words in another
    order (the Lab's tab and the Story's chapter 4; `key` keeps their widgets apart)."""
    entries = [e for e in list_models() if e.name in ("transformer", "transformer-nopos")]
    c1, c2 = st.columns(2)
    sentence = c1.text_input("Sentence", "The dog bites the man.", key=f"{key}-sentence", bind=links.BIND)
    how = c2.segmented_control("Change the word order", ["swap", "shuffle"], default="swap", key=f"{key}-how",
                               bind=links.BIND,
                               format_func={"swap": "my reordering", "shuffle": "shuffle at random"}.get) or "swap"
    reordered = c2.text_input("The same words in another order", "The man bites the dog.", key=f"{key}-reordered",
                              bind=links.BIND,
                              disabled=how == "shuffle", help="Swap who does what: the same words, another meaning.")
    if len(entries) < 2:
        st.info("This needs the shipped transformer and transformer-nopos checkpoints.")
    elif st.button("Translate both orders", key=f"run-{key}"):
        try:
            text, _ = prepare_input(sentence)
            other = lab.shuffle_words(text) if how == "shuffle" else prepare_input(reordered)[0]
            if sorted(re.findall(r"\w+", other)) != sorted(re.findall(r"\w+", text)):
                raise InputError("The second sentence must use exactly the words of the first, in another order.")
            translators, errors = load_translators(entries)
            for name, message in errors.items():
                st.error(f"{name}: {message}")
            checks = {name: lab.word_order_check(translator, text, other) for name, translator in translators.items()}
            st.session_state[f"{key}_rows"] = word_order_rows(checks)
            st.session_state[f"{key}_orders"] = (text, other)
        except InputError as exc:
            st.info(str(exc))
    if rows := st.session_state.get(f"{key}_rows"):
        first, second = st.session_state[f"{key}_orders"]
        st.text(f"1: {first}\n2: {second}")
        st.dataframe(rows, hide_index=True, width="stretch")
        st.caption("“The encoder sees” compares the model's internal states for the two orders, word by word: the same "
                   "bag of words (identical up to rounding) or two different sentences. Without positions the model "
                   "must give both orders the same translation.")


def word_order_rows(checks: dict[str, dict]) -> list[dict]:
    """One table row per model of `lab.word_order_check` results, in words."""
    rows = []
    for name, check in checks.items():
        same = check["gap"] is not None and check["gap"] < SAME_STATES
        sees = ("the same bag of words" if same else "two different sentences") if check["gap"] is not None else (
            "not comparable: the two split into different pieces")
        rows.append({"model": plain_name(name), "translation of 1": check["translation"],
                     "translation of 2": check["shuffled_translation"],
                     "the two translations": "identical" if check["translation"] == check["shuffled_translation"]
                     else "different",
                     "the encoder sees": sees})
    return rows


def influence() -> list:
    """Saliency: which source words sway each output word of a typed sentence. Returns the models picked."""
    st.markdown("""
Which source words sway each output word? For a word a model wrote, we measure how much its probability would
change if each source word's embedding moved (the gradient's size: *saliency*). Click an output word to see it
over the sentence. Then, over many test sentences: how much influence reaches words far away?
""")
    shipped = [e for e in list_models() if e.shipped]
    defaults = [e.name for e in shipped if e.name in ("gru", "gru-attn", "transformer")]
    picked = st.multiselect("Models", [e.name for e in shipped], default=defaults, key="influence-models",
                            bind=links.BIND)
    sentence = st.text_input("Sentence", "We are going to the station because the weather is nice.",
                             key="influence-sentence", bind=links.BIND)
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
    count = st.select_slider("Test sentences", [10, 20, 40], 20, key="influence-count", bind=links.BIND)
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
