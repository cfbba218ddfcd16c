"""The Lab page's experiments, one renderer each: a short explanation, the controls, a live run, the result."""
import re

import streamlit as st
import torch

from dashboard import figures, links
from dashboard.i18n import N_, t
from dashboard.models import list_models, load_json, load_translators
from dashboard.names import plain_name
from dashboard.widgets import chart, read_sentence, source_note, table
from engine.data import corpora
from engine.experiments import lab
from engine.paths import shown

PROBE_NAMES = {"rnn-tanh": N_("Plain RNN"), "rnn-relu-attn": N_("ReLU RNN"), "lstm": N_("LSTM"), "gru": N_("GRU"),
               "transformer": N_("Transformer")}  # the probes run without attention: their presets' names would mislead
VARIANTS = {"forget bias 1": N_("forget bias 1")}  # the second part of a probe's label ("lstm, forget bias 1")


def probe_label(label: str) -> str:
    """A toy contestant's label in plain words: "lstm, forget bias 1" -> "LSTM, forget bias 1"."""
    family, _, rest = label.partition(", ")
    name = t(PROBE_NAMES[family]) if family in PROBE_NAMES else family
    return name + (", " + (t(VARIANTS[rest]) if rest in VARIANTS else rest) if rest else "")


def memory_verdict(trained: dict[str, dict]) -> str:
    """What the memory task showed, in plain words: who learned it and where the gradient reached."""
    parts = []
    for label, r in trained.items():
        first, last = r["gradient"][0], r["gradient"][-1]
        ratio = first / last if last > 0 else None
        if ratio is None:
            reach = t("the gradient at position 0 could not be compared with the last position's")
        elif ratio >= 1:
            reach = t("the gradient at position 0 is {ratio:.2g} times the one at the last position", ratio=ratio)
        elif ratio > 0:
            inverse = 1 / ratio
            digits = max(0, len(str(int(inverse))) - 2)  # two significant digits: 1/2,500
            reach = t("the gradient at position 0 is 1/{inverse:,.0f} of the one at the last position",
                      inverse=round(inverse, -digits))
        else:
            reach = t("no gradient at all reaches position 0")
        parts.append(t("**{model}**: {accuracy:.0%} of held-out answers right; {reach}", model=label,
                       accuracy=r["accuracy"], reach=reach))
    return t(". ").join(parts) + t(".")


def gradient_after_training() -> None:
    """Claim 2 after training, first: which models learned to keep a path back to the first input. The shipped
    result (`python -m engine gradients`) shows at once; a button trains the four models again here."""
    st.markdown(t("""
**After training: who keeps a path back to the first word?** Four small models learned a memory task: read 30
letters, then write the first two. How much of the first output letter's error reaches each input position? In a
plain RNN the gradient fades at every step back, so the first letters barely learn: a *vanishing gradient*. The
GRU's gates learn to carry it across. The usual LSTM remedy, a forget-gate bias of 1, runs beside the plain LSTM.
"""))
    live = st.session_state.get("grad_trained")
    shipped = load_json(lab.AFTER_TRAINING_FILE) if lab.AFTER_TRAINING_FILE.is_file() else None
    trained = {probe_label(m): r for m, r in (live or (shipped or {}).get("models") or {}).items()}
    if trained:
        rows = [{"model": m, "position": i, "grad_norm": g} for m, r in trained.items()
                for i, g in enumerate(r["gradient"])]
        chart(figures.lines({m: (list(range(len(r["gradient"]))), r["gradient"]) for m, r in trained.items()},
                            t("Gradient reaching each input position, after training on the memory task"),
                            t("input position (0 = the letter to remember)"), t("gradient norm (log scale)"),
                            log_y=True),
              rows, "gradient-after-training.csv", "grad-trained",
              t("After training: a model that learned to remember keeps a path back to position 0; lower on the left "
                "means the first letters barely learn."))
        st.markdown(memory_verdict(trained))
        if live:
            st.caption(t("Trained just now on this server."))
        else:
            source_note(t("{file}, made by `{command}` on {cpu} ({steps} training steps per model).",
                          file=shown(lab.AFTER_TRAINING_FILE), command=shipped["command"],
                          cpu=shipped["machine"]["cpu"], steps=shipped["steps"]))
    c1, c2 = st.columns([2, 1])
    steps = c1.select_slider(t("Training steps per model"), [200, 400, 600, 800], 600, key="grad-trained-steps",
                             bind=links.BIND)
    if c2.button(t("Train the four again here (about a minute)"), key="run-grad-trained"):
        with st.spinner(t("Training the plain RNN, two LSTMs and the GRU on the memory task…")):
            st.session_state.grad_trained = lab.gradient_after_training(steps=steps)
        st.rerun()


def gradient_flow() -> None:
    """Claim 2 at initialisation: the gradient reaching each source position, per architecture."""
    st.markdown(t("""
**At initialisation, before any training.** How much of the **last** output word's error reaches each **source**
word of a freshly initialised model (encoder reading left to right, no attention)? With PyTorch's default weights
every recurrent model fades, the plain RNN most. Orthogonal recurrent weights (a remedy) keep the plain RNN's
gradient almost flat at first, while the gated cells, whose gates start half closed, still fade: their remedy is
training, above. A Transformer's attention gives every position a direct path, so its curve stays flat.
"""))
    c1, c2 = st.columns(2)
    length = c1.slider(t("Source length (tokens)"), 10, 120, 50, key="grad-length", bind=links.BIND)
    inits = {"default": t("default"), "orthogonal": t("orthogonal")}
    init = c2.segmented_control(t("Initialisation of the gated cells"), ["default", "orthogonal"], default="default",
                                key="grad-init", bind=links.BIND, format_func=inits.get) or "default"
    if st.button(t("Run gradient-flow experiment"), key="run-grad"):
        with st.spinner(t("Measuring…")):
            other = "orthogonal" if init == "default" else "default"
            plain = t(PROBE_NAMES["rnn-tanh"])
            flow = {t("{model}, {init} init", model=plain, init=inits[init]):
                    lab.gradient_by_source_position("rnn-tanh", length, init=init),
                    t("{model}, {init} init", model=plain, init=inits[other]):
                    lab.gradient_by_source_position("rnn-tanh", length, init=other)}
            flow |= {t(PROBE_NAMES[p]): lab.gradient_by_source_position(p, length, init=init)
                     for p in lab.GRADIENT_FLOW_PRESETS if p != "rnn-tanh"}
            st.session_state.grad_flow, st.session_state.grad_init = flow, init
    flow = st.session_state.get("grad_flow")
    if flow:
        rows = [{"model": m, "position": i, "grad_norm": g} for m, gs in flow.items() for i, g in enumerate(gs)]
        chart(figures.lines({m: (list(range(len(gs))), gs) for m, gs in flow.items()},
                            t("Gradient reaching each source position at initialisation ({init} init)",
                              init=inits[st.session_state.grad_init]), t("source position (0 = first word)"),
                            t("gradient norm (log scale)"), log_y=True),
              rows, "gradient-flow.csv", "grad-flow",
              t("How much of the last output's error reaches each source word; lower on the left = vanishing."))


def clipping() -> None:
    """Claim 2's remedy: an exploding ReLU RNN trained with and without gradient clipping."""
    st.markdown(t("**Clipping an exploding run.** A ReLU RNN whose recurrent weights start too large (×2), trained "
                  "twice on the same data with the same learning rate: without clipping, and with the gradient norm "
                  "clipped to 1."))
    if st.button(t("Run clipping experiment"), key="run-clip"):
        with st.spinner(t("Training twice…")):
            st.session_state.clipping = {"no clipping": lab.clipping_run(0.0), "clipped at 1.0": lab.clipping_run(1.0)}
    clipping = {t(RUNS[n]): h for n, h in st.session_state.get("clipping", {}).items()}
    if clipping:
        rows = [{"run": n, **r} for n, h in clipping.items() for r in h]
        for name, history in clipping.items():
            if len(history) < 60:
                st.caption(t("{run}: the loss or gradient overflowed to inf/NaN after step {step}; the run stopped.",
                             run=name, step=len(history)))
        for metric, title in (("grad_norm", t("gradient norm before clipping (log scale)")),
                              ("loss", t("training loss"))):
            chart(figures.lines({n: ([r["step"] for r in h], [r[metric] for r in h]) for n, h in clipping.items()},
                                title, t("step"), title, log_y=metric == "grad_norm"),
                  rows, f"clipping-{metric}.csv", f"clip-{metric}",
                  t("The same exploding start trained twice: {what}, with and without clipping.", what=title))


# the models read English, so the example sentences stay English in every language
SUBJECT_OBJECT = ("The dog bites the man.", "The man bites the dog.")  # data: English input for the models
INFLUENCE_SENTENCE = "We are going to the station because the weather is nice."  # data: English input
SAME_STATES = 1e-4  # encoder states this close are the same up to float rounding
COLUMNS = [N_("translation of 1"), N_("translation of 2"), N_("the two translations"),
           N_("the encoder sees")]  # the word-order table's column names, shown through widgets.table
RUNS = {"no clipping": N_("no clipping"), "clipped at 1.0": N_("clipped at 1.0")}  # the clipping experiment's runs


def word_order(key: str = "pe") -> None:
    """Claim 3: the Transformer with and without positional encodings on a sentence and the same words in another
    order (the Lab's tab and the Story's chapter 4; `key` keeps their widgets apart)."""
    entries = [e for e in list_models() if e.name in ("transformer", "transformer-nopos")]
    c1, c2 = st.columns(2)
    sentence = c1.text_input(t("Sentence"), SUBJECT_OBJECT[0], key=f"{key}-sentence", bind=links.BIND)
    how = c2.segmented_control(t("Change the word order"), ["swap", "shuffle"], default="swap", key=f"{key}-how",
                               bind=links.BIND, format_func={"swap": t("my reordering"),
                                                             "shuffle": t("shuffle at random")}.get) or "swap"
    reordered = c2.text_input(t("The same words in another order"), SUBJECT_OBJECT[1], key=f"{key}-reordered",
                              bind=links.BIND, disabled=how == "shuffle",
                              help=t("Swap who does what: the same words, another meaning."))
    if len(entries) < 2:
        st.info(t("This needs the shipped transformer and transformer-nopos checkpoints."))
    elif st.button(t("Translate both orders"), key=f"run-{key}") and (text := read_sentence(sentence)):
        other = lab.shuffle_words(text) if how == "shuffle" else read_sentence(reordered)
        if other and sorted(re.findall(r"\w+", other)) != sorted(re.findall(r"\w+", text)):
            st.info(t("The second sentence must use exactly the words of the first, in another order."))
        elif other:
            translators, errors = load_translators(entries)
            for name, message in errors.items():
                st.error(f"{name}: {message}")
            checks = {name: lab.word_order_check(translator, text, other) for name, translator in translators.items()}
            st.session_state[f"{key}_rows"] = checks
            st.session_state[f"{key}_orders"] = (text, other)
    if checks := st.session_state.get(f"{key}_rows"):
        first, second = st.session_state[f"{key}_orders"]
        st.text(f"1: {first}\n2: {second}")
        table(word_order_rows(checks))
        st.caption(t("“The encoder sees” compares the model's internal states for the two orders, word by word: the "
                     "same bag of words (identical up to rounding) or two different sentences. Without positions the "
                     "model must give both orders the same translation."))


def word_order_rows(checks: dict[str, dict]) -> list[dict]:
    """One table row per model of `lab.word_order_check` results, in words."""
    rows = []
    for name, check in checks.items():
        same = check["gap"] is not None and check["gap"] < SAME_STATES
        sees = (t("the same bag of words") if same else t("two different sentences")) if check["gap"] is not None \
            else t("not comparable: the two split into different pieces")
        rows.append({"model": plain_name(name), "translation of 1": check["translation"],
                     "translation of 2": check["shuffled_translation"],
                     "the two translations": t("identical") if check["translation"] == check["shuffled_translation"]
                     else t("different"),
                     "the encoder sees": sees})
    return rows


def influence() -> list:
    """Saliency: which source words sway each output word of a typed sentence. Returns the models picked."""
    st.markdown(t("""
Which source words sway each output word? For a word a model wrote, we measure how much its probability would
change if each source word's embedding moved (the gradient's size: *saliency*). Click an output word to see it
over the sentence. Then, over many test sentences: how much influence reaches words far away?
"""))
    shipped = [e for e in list_models() if e.shipped]
    defaults = [e.name for e in shipped if e.name in ("gru", "gru-attn", "transformer")]
    picked = st.multiselect(t("Models"), [e.name for e in shipped], default=defaults, key="influence-models",
                            bind=links.BIND)
    sentence = st.text_input(t("Sentence"), INFLUENCE_SENTENCE, key="influence-sentence", bind=links.BIND)
    if st.button(t("Measure influence"), key="run-influence") and (text := read_sentence(sentence)):
        translators, errors = load_translators([e for e in shipped if e.name in picked])
        for name, message in errors.items():
            st.error(f"{name}: {message}")
        with st.spinner(t("One backward pass per output word…")):
            st.session_state.influence = {n: lab.output_influence(tr, text) for n, tr in translators.items()}
    for name, result in st.session_state.get("influence", {}).items():
        outputs = result["output_tokens"]
        index = st.pills(t("{model} wrote (click a word)", model=name), list(range(len(outputs))),
                         default=0, format_func=lambda i, o=outputs: o[i], key=f"influence-word-{name}") or 0
        row = result["influence"][index]
        chart(figures.bars([f"{i}:{token}" for i, token in enumerate(result["source_tokens"])], row,
                           figures.as_text(t("{model}: what swayed “{word}”", model=name, word=outputs[index])),
                           t("gradient norm"), ".2g",
                           x_title=t("source token")),
              [{"source": token, "influence": v} for token, v in zip(result["source_tokens"], row)],
              f"influence-{name}.csv", f"influence-{name}",
              t("Taller bars: source words that sway this output word more."))
    return [e for e in shipped if e.name in picked]


def influence_by_distance(models: list) -> None:
    """How far each of `models`' influence reaches, averaged over test sentences."""
    count = st.select_slider(t("Test sentences"), [10, 20, 40], 20, key="influence-count", bind=links.BIND)
    if st.button(t("Average over test sentences"), key="run-distance"):
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
                            t("Influence against distance ({count} ding-en-de test sentences)", count=count),
                            t("distance between source and output position (tokens)"),
                            t("average share of an output word's influence"), mode="lines+markers"),
              rows, "influence-by-distance.csv", "distance",
              t("How much of an output word's influence comes from source words at each distance."))
        st.caption(t("A flatter curve reaches further: distant source words still sway the output. A steep one "
                     "listens mostly to nearby positions. Measured live on the shipped models."))


def parallelism() -> None:
    """Claim 1: time per training step with one thread and with all, as sentences grow."""
    st.markdown(t("""
Time per training step as sentences grow, for a GRU and a Transformer of the same width, with 1 thread and with
all threads of this server. A model that parallelises well gains more from the extra threads.
"""))
    if st.button(t("Run parallelism experiment"), key="run-par"):
        bar = st.progress(0.0)
        st.session_state.parallel = lab.step_times(("gru-attn", "transformer"), (8, 32, 64),
                                                   sorted({1, torch.get_num_threads()}), on_progress=bar.progress)
    rows = st.session_state.get("parallel")
    if rows:
        series = figures.grouped_series(rows, lambda r: t("{model}, {count} thread(s)", model=r["preset"],
                                                          count=r["threads"]), "length", "ms_per_step")
        chart(figures.lines(series, t("Wall time per training step (batch 16)"), t("sentence length (tokens)"),
                            t("milliseconds per step"), mode="lines+markers"), rows, "parallelism.csv", "parallel",
              t("Time per training step as sentences grow, with one thread and with all."))
