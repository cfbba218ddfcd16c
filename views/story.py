import streamlit as st

from dashboard import figures, links, story
from dashboard.i18n import t
from dashboard.lab import memory_verdict, probe_label, word_order
from dashboard.models import bench_files, is_recurrent, list_models, load_eval, load_json
from dashboard.names import plain_name
from dashboard.widgets import chart, intro, source_note
from engine.experiments import lab
from engine.experiments.bench import sequential_steps
from engine.paths import shown

intro(t("Why Transformers replaced RNNs"), t("""
In 2017 the Transformer replaced recurrent networks as the way machines translate. Six short chapters show
why, each with evidence from models trained here and one thing to try. Where this small machine disagrees with
the textbook, the chapter says so. Words in *italics* are explained in the glossary at the bottom.
"""))
LINKED = ["story-length", "story-fade", "story-sentence", "story-how", "story-reordered"]
links.hide_controls(LINKED)
links.copy_link(LINKED)
st.caption(t("To link one chapter, hover over its title and copy the link icon, or add #word-order (and the like) to "
             "the address."))
models = {e.name: e for e in list_models()}
benches = [load_json(p) for p in bench_files()]
bench = benches[0] if benches else None
gpu = story.gpu_bench(benches)


def research(key: str) -> None:
    """The chapter's established result, with its source, before what this server measured."""
    st.markdown(":material/menu_book: " + t("**What research found.** {finding}", finding=t(story.RESEARCH[key])))


def glossary(term: str) -> str:
    return t(story.GLOSSARY[term])


st.subheader(t("1. One word at a time"), anchor="one-word-at-a-time", help=glossary("recurrent network (RNN)"))
st.markdown(t("A *recurrent network* must finish word 1 before it starts word 2: a long sentence is a long chain of "
              "steps that no hardware can run side by side. A *Transformer* handles all words of a layer at once."))
length = st.slider(t("Sentence length (tokens)"), 5, 200, 40, key="story-length", bind=links.BIND)
c1, c2 = st.columns(2)
c1.metric(t("GRU: steps one after another"), sequential_steps("gru", length))
c2.metric(t("Transformer: steps one after another"), sequential_steps("transformer", length))
gru_layers, transformer_layers = sequential_steps("gru", 1), sequential_steps("transformer", 1)
st.caption(t("Why {steps} and not {length}? The GRU stacks {gru_layers} recurrent layers (encoder and decoder), and "
             "each walks the sentence one token after another: {length} × {gru_layers}. Each of the Transformer's "
             "{transformer_layers} layers takes one step for all tokens at once.",
             steps=sequential_steps("gru", length), length=length, gru_layers=gru_layers,
             transformer_layers=transformer_layers))
research("steps")
for measured in [b for b in (bench, gpu) if b]:
    short, long = (story.training_speed(measured, p, n) for p, n in (("gru", 32), ("gru", 256)))
    t_short, t_long = (story.training_speed(measured, "transformer", n) for n in (32, 256))
    if None not in (short, long, t_short, t_long):
        st.markdown(":material/memory: " + t(
            "**Measured on {machine}.** Training speed at 32 tokens: GRU {gru_short:,.0f} tokens/s, Transformer "
            "{transformer_short:,.0f}; at 256 tokens, {gru_long:,.0f} against {transformer_long:,.0f}.",
            machine=story.machine_name(measured), gru_short=short, transformer_short=t_short, gru_long=long,
            transformer_long=t_long))
if bench and not gpu:
    st.markdown(":material/help: " + t(
        "**Why a small CPU can disagree.** Two cores are little parallel hardware, and these models are small: each "
        "GRU step is a small computation the cores finish quickly, so the long chain costs less than the "
        "Transformer's larger, all-at-once work. What changes it is hardware with more units than one step can fill: "
        "the step counts above are exact on any machine, and a GPU bench file (`python -m engine bench` on a GPU) "
        "goes beside this one on the Speed page."))
st.page_link("views/speed.py", label=t("More on speed"), icon=":material/speed:")

st.subheader(t("2. Gradients that fade"), anchor="gradients", help=glossary("vanishing gradient"))
st.markdown(t("Learning sends a *gradient* back through every step. In a plain RNN it shrinks at each step, so the "
              "first words of a long sentence barely learn. Attention gives every word a direct path."))
research("gradients")
if lab.AFTER_TRAINING_FILE.is_file():
    trained = load_json(lab.AFTER_TRAINING_FILE)
    curves = {probe_label(m): r["gradient"] for m, r in trained["models"].items()}
    chart(figures.lines({n: (list(range(len(gs))), gs) for n, gs in curves.items()},
                        t("After training: gradient reaching each input position"),
                        t("input position (0 = the letter to remember)"), t("gradient norm (log scale)"), log_y=True),
          [{"model": n, "position": i, "gradient": g} for n, gs in curves.items() for i, g in enumerate(gs)],
          "story-gradients-trained.csv", "story-grad-trained",
          t("Four small models trained to remember the first letters of {length}: lower on the left means the first "
            "letters barely learn. ", length=trained["length"])
          + memory_verdict({probe_label(m): r for m, r in trained["models"].items()}).replace("**", ""))
    source_note(t("{file}, made by `{command}` on {cpu}.", file=shown(lab.AFTER_TRAINING_FILE),
                  command=trained["command"], cpu=trained["machine"]["cpu"]))
st.markdown(t("**Before any training**, measured live: every recurrent model starts out fading (PyTorch's default "
              "weights), the plain RNN most. Training teaches the GRU's gates to carry the signal, as above; the "
              "Transformer's attention reaches every word from the start."))
fade_length = st.slider(t("Sentence length (tokens)"), 10, 80, 40, key="story-fade", bind=links.BIND)
flows = {plain_name(preset): st.cache_data(lab.gradient_by_source_position, show_spinner=t("Measuring…"))(
    preset, fade_length, init="default") for preset in ("rnn-tanh", "gru", "transformer")}
rows = [{"model": n, "position": i, "gradient": g} for n, gs in flows.items() for i, g in enumerate(gs)]
chart(figures.lines({n: (list(range(len(gs))), gs) for n, gs in flows.items()},
                    t("Before training: gradient reaching each source word"), t("source position (0 = first word)"),
                    t("gradient norm (log scale)"), log_y=True),
      rows, "story-gradients.csv", "story-grad",
      t("How much learning signal reaches each word of a freshly initialised model; lower on the left means the "
        "first words learn least."))
c1, c2, c3 = st.columns(3)
c1.page_link("views/playground.py", label=t("Watch a plain RNN fail to remember"), icon=":material/toys:",
             query_params={"preset": "vanishing"})
c2.page_link("views/playground.py", label=t("Watch clipping tame an exploding RNN"), icon=":material/toys:",
             query_params={"preset": "exploding"})
c3.page_link("views/lab.py", label=t("Run the gradient experiments"), icon=":material/science:")

st.subheader(t("3. A fixed-size bottleneck"), anchor="bottleneck", help=glossary("attention"))
st.markdown(t("Without *attention*, an RNN's decoder sees the whole sentence only as one fixed-size summary. "
              "Attention lets it look back at the source word it needs."))
for corpus in ("ding-en-de", "bible-en-de"):
    evals = {n: ev for n, e in models.items() if (ev := load_eval(e, corpus)) and ev["corpus"] == corpus}
    if sentence := story.attention_gain(evals):
        st.markdown(f"**{corpus}:** {sentence}")
c1, c2 = st.columns(2)
c1.page_link("views/playground.py", label=t("Race a GRU with and without attention"), icon=":material/toys:",
             query_params={"preset": "bottleneck"})
c2.page_link("views/quality.py", label=t("Compare every model"), icon=":material/grading:")

st.subheader(t("4. Word order"), anchor="word-order", help=glossary("positional encoding"))
st.markdown(t("Attention alone does not know where a word stands: a Transformer without *positional encodings* "
              "reads a bag of words. Swap who does what, and see which model notices."))
word_order("story")
st.page_link("views/playground.py", label=t("Teach two Transformers to reverse letters"), icon=":material/toys:",
             query_params={"preset": "word-order"})

st.subheader(t("5. Long sentences"), anchor="long-sentences", help=glossary("chrF"))
st.markdown(t("The longer the sentence, the longer an RNN's chain of steps and the more it must squeeze into its "
              "state."))
research("long")
st.markdown(":material/memory: " + t("**Measured here:** the shipped models on Bible verses from short to long."))
bible = {n: ev for n, e in models.items() if (ev := load_eval(e, "bible-en-de")) and ev["corpus"] == "bible-en-de"}
if bible:
    by_length = {n: ev["by_length"] for n, ev in bible.items() if "by_length" in ev}
    chart(figures.by_length(by_length, "chrf", "bible-en-de"),
          [{"model": n, **r} for n, rs in by_length.items() for r in rs], "story-long.csv", "story-long",
          t("Each shipped model's score on Bible verses from short to long."))
    if verdict := story.long_sentence_verdict(bible, {n: is_recurrent(e) for n, e in models.items()}):
        st.markdown(verdict)
    source_note(t("From each checkpoint's eval-bible-en-de.json, made by `{command}`.",
                  command=next(iter(bible.values()))["command"]))
else:
    st.info(t("No model has been scored on bible-en-de yet: `python -m engine eval CHECKPOINT --corpus "
              "bible-en-de`."))

st.subheader(t("6. Parallel hardware"), anchor="parallel-hardware", help=glossary("training tokens"))
research("parallel")
for measured in [b for b in (bench, gpu) if b]:
    gains = story.thread_gains(measured)
    if not gains:
        continue
    chart(figures.bars([plain_name(m) for m in gains], list(gains.values()),
                       t("Speed-up from 1 thread to {threads} ({cpu})", threads=measured["machine"]["threads"],
                         cpu=measured["machine"]["cpu"]),
                       t("times faster"), ".2f"), [{"model": m, "speed-up": g} for m, g in gains.items()],
          f"story-threads-{measured['machine']['cuda_device']}.csv",
          f"story-threads-{measured['machine']['cuda_device']}",
          t("Measured on {machine}: how much faster each model trained with all threads than with one.",
            machine=story.machine_name(measured)))
if bench and not gpu:
    st.markdown(":material/help: " + t(
        "**Why two cores show no gap.** Each recurrent step's matrix products already split over both cores, so every "
        "model gains about the same from the second one. The gap opens with more units than one word's step can "
        "fill, as on a GPU. What does not depend on the machine: for a 40-token sentence the GRU runs {gru} steps "
        "one after another, the Transformer {transformer}.", gru=sequential_steps("gru", 40),
        transformer=sequential_steps("transformer", 40)))

with st.expander(t("Glossary")):
    for term, meaning in story.GLOSSARY.items():
        st.markdown(f"**{t(term)}**: {t(meaning)}")
