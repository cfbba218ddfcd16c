import streamlit as st

from dashboard import figures, links, story
from dashboard.lab import probe_label, word_order
from dashboard.models import bench_files, is_recurrent, list_models, load_eval, load_json
from dashboard.names import plain_name
from dashboard.widgets import chart, intro, source_note
from engine.experiments import lab
from engine.experiments.bench import sequential_steps
from engine.paths import shown

intro("Why Transformers replaced RNNs", """
In 2017 the Transformer replaced recurrent networks as the way machines translate. Six short chapters show
why, each with evidence from models trained here and one thing to try. Where this small machine disagrees with
the textbook, the chapter says so. Words in *italics* are explained in the glossary at the bottom.
""")
LINKED = ["story-length", "story-fade", "story-sentence", "story-how", "story-reordered"]
links.hide_controls(LINKED)
links.copy_link(LINKED)
st.caption("To link one chapter, hover over its title and copy the link icon, or add #word-order (and the like) to "
           "the address.")
models = {e.name: e for e in list_models()}
benches = [load_json(p) for p in bench_files()]
bench = benches[0] if benches else None
gpu = story.gpu_bench(benches)


def research(key: str) -> None:
    """The chapter's established result, with its source, before what this server measured."""
    st.markdown(f":material/menu_book: **What research found.** {story.RESEARCH[key]}")

st.subheader("1. One word at a time", anchor="one-word-at-a-time", help=story.GLOSSARY["recurrent network (RNN)"])
st.markdown("A *recurrent network* must finish word 1 before it starts word 2: a long sentence is a long chain of "
            "steps that no hardware can run side by side. A *Transformer* handles all words of a layer at once.")
length = st.slider("Sentence length (tokens)", 5, 200, 40, key="story-length", bind=links.BIND)
c1, c2 = st.columns(2)
c1.metric("GRU: steps one after another", sequential_steps("gru", length))
c2.metric("Transformer: steps one after another", sequential_steps("transformer", length))
gru_layers, transformer_layers = sequential_steps("gru", 1), sequential_steps("transformer", 1)
st.caption(f"Why {sequential_steps('gru', length)} and not {length}? The GRU stacks {gru_layers} recurrent layers "
           f"(encoder and decoder), and each walks the sentence one token after another: {length} × {gru_layers}. "
           f"Each of the Transformer's {transformer_layers} layers takes one step for all tokens at once.")
research("steps")
for measured in [b for b in (bench, gpu) if b]:
    short, long = (story.training_speed(measured, p, n) for p, n in (("gru", 32), ("gru", 256)))
    t_short, t_long = (story.training_speed(measured, "transformer", n) for n in (32, 256))
    if None not in (short, long, t_short, t_long):
        st.markdown(f":material/memory: **Measured on {story.machine_name(measured)}.** Training speed at 32 tokens: "
                    f"GRU {short:,.0f} tokens/s, Transformer {t_short:,.0f}; at 256 tokens, {long:,.0f} against "
                    f"{t_long:,.0f}.")
if bench and not gpu:
    st.markdown(":material/help: **Why a small CPU can disagree.** Two cores are little parallel hardware, and these "
                "models are small: each GRU step is a small computation the cores finish quickly, so the long chain "
                "costs less than the Transformer's larger, all-at-once work. What changes it is hardware with more "
                "units than one step can fill: the step counts above are exact on any machine, and a GPU bench file "
                "(`python -m engine bench` on a GPU) goes beside this one on the Speed page.")
st.page_link("views/speed.py", label="More on speed", icon=":material/speed:")

st.subheader("2. Gradients that fade", anchor="gradients", help=story.GLOSSARY["vanishing gradient"])
st.markdown("Learning sends a *gradient* back through every step. In a plain RNN it shrinks at each step, so the "
            "first words of a long sentence barely learn. Attention gives every word a direct path.")
research("gradients")
if lab.AFTER_TRAINING_FILE.is_file():
    trained = load_json(lab.AFTER_TRAINING_FILE)
    curves = {probe_label(m): r["gradient"] for m, r in trained["models"].items()}
    chart(figures.lines({n: (list(range(len(gs))), gs) for n, gs in curves.items()},
                        "After training: gradient reaching each input position", "input position (0 = the letter to "
                        "remember)", "gradient norm (log scale)", log_y=True),
          [{"model": n, "position": i, "gradient": g} for n, gs in curves.items() for i, g in enumerate(gs)],
          "story-gradients-trained.csv", "story-grad-trained",
          f"Four small models trained to remember the first letters of {trained['length']}: lower on the left means "
          "the first letters barely learn. " + lab.memory_verdict({probe_label(m): r for m, r in
                                                                   trained["models"].items()}).replace("**", ""))
    source_note(f"{shown(lab.AFTER_TRAINING_FILE)}, made by `{trained['command']}` on {trained['machine']['cpu']}.")
st.markdown("**Before any training**, measured live: every recurrent model starts out fading (PyTorch's default "
            "weights), the plain RNN most. Training teaches the GRU's gates to carry the signal, as above; the "
            "Transformer's attention reaches every word from the start.")
fade_length = st.slider("Sentence length (tokens)", 10, 80, 40, key="story-fade", bind=links.BIND)
flows = {name: st.cache_data(lab.gradient_by_source_position, show_spinner="Measuring…")(preset, fade_length,
                                                                                       init="default")
         for name, preset in (("Plain RNN", "rnn-tanh"), ("GRU", "gru"), ("Transformer", "transformer"))}
rows = [{"model": n, "position": i, "gradient": g} for n, gs in flows.items() for i, g in enumerate(gs)]
chart(figures.lines({n: (list(range(len(gs))), gs) for n, gs in flows.items()},
                    "Before training: gradient reaching each source word", "source position (0 = first word)",
                    "gradient norm (log scale)", log_y=True),
      rows, "story-gradients.csv", "story-grad",
      "How much learning signal reaches each word of a freshly initialised model; lower on the left means the first "
      "words learn least.")
c1, c2, c3 = st.columns(3)
c1.page_link("views/playground.py", label="Watch a plain RNN fail to remember", icon=":material/toys:",
             query_params={"preset": "vanishing"})
c2.page_link("views/playground.py", label="Watch clipping tame an exploding RNN", icon=":material/toys:",
             query_params={"preset": "exploding"})
c3.page_link("views/lab.py", label="Run the gradient experiments", icon=":material/science:")

st.subheader("3. A fixed-size bottleneck", anchor="bottleneck", help=story.GLOSSARY["attention"])
st.markdown("Without *attention*, an RNN's decoder sees the whole sentence only as one fixed-size summary. "
            "Attention lets it look back at the source word it needs.")
for corpus in ("ding-en-de", "bible-en-de"):
    evals = {n: ev for n, e in models.items() if (ev := load_eval(e, corpus)) and ev["corpus"] == corpus}
    if sentence := story.attention_gain(evals):
        st.markdown(f"**{corpus}:** {sentence}")
c1, c2 = st.columns(2)
c1.page_link("views/playground.py", label="Race a GRU with and without attention", icon=":material/toys:",
             query_params={"preset": "bottleneck"})
c2.page_link("views/quality.py", label="Compare every model", icon=":material/grading:")

st.subheader("4. Word order", anchor="word-order", help=story.GLOSSARY["positional encoding"])
st.markdown("Attention alone does not know where a word stands: a Transformer without *positional encodings* "
            "reads a bag of words. Swap who does what, and see which model notices.")
word_order("story")
st.page_link("views/playground.py", label="Teach two Transformers to reverse letters", icon=":material/toys:",
             query_params={"preset": "word-order"})

st.subheader("5. Long sentences", anchor="long-sentences", help=story.GLOSSARY["chrF"])
st.markdown("The longer the sentence, the longer an RNN's chain of steps and the more it must squeeze into its "
            "state.")
research("long")
st.markdown(":material/memory: **Measured here:** the shipped models on Bible verses from short to long.")
bible = {n: ev for n, e in models.items() if (ev := load_eval(e, "bible-en-de")) and ev["corpus"] == "bible-en-de"}
if bible:
    by_length = {n: ev["by_length"] for n, ev in bible.items() if "by_length" in ev}
    chart(figures.by_length(by_length, "chrf", "bible-en-de"),
          [{"model": n, **r} for n, rs in by_length.items() for r in rs], "story-long.csv", "story-long",
          "Each shipped model's score on Bible verses from short to long.")
    if verdict := story.long_sentence_verdict(bible, {n: is_recurrent(e) for n, e in models.items()}):
        st.markdown(verdict)
    source_note(f"From each checkpoint's eval-bible-en-de.json, made by `{next(iter(bible.values()))['command']}`.")
else:
    st.info("No model has been scored on bible-en-de yet: `python -m engine eval CHECKPOINT --corpus bible-en-de`.")

st.subheader("6. Parallel hardware", anchor="parallel-hardware", help=story.GLOSSARY["training tokens"])
research("parallel")
for measured in [b for b in (bench, gpu) if b]:
    gains = story.thread_gains(measured)
    if not gains:
        continue
    chart(figures.bars([plain_name(m) for m in gains], list(gains.values()),
                       f"Speed-up from 1 thread to {measured['machine']['threads']} ({measured['machine']['cpu']})",
                       "times faster", ".2f"), [{"model": m, "speed-up": g} for m, g in gains.items()],
          f"story-threads-{measured['machine']['cuda_device']}.csv",
          f"story-threads-{measured['machine']['cuda_device']}",
          f"Measured on {story.machine_name(measured)}: how much faster each model trained with all threads than "
          "with one.")
if bench and not gpu:
    st.markdown(":material/help: **Why two cores show no gap.** Each recurrent step's matrix products already split "
                "over both cores, so every model gains about the same from the second one. The gap opens with more "
                "units than one word's step can fill, as on a GPU. What does not depend on the machine: for a "
                f"40-token sentence the GRU runs {sequential_steps('gru', 40)} steps one after another, the "
                f"Transformer {sequential_steps('transformer', 40)}.")

with st.expander("Glossary"):
    for term, meaning in story.GLOSSARY.items():
        st.markdown(f"**{term}**: {meaning}")
