import streamlit as st

from dashboard import figures, story
from dashboard.models import bench_files, is_recurrent, list_models, load_eval, load_json, load_translators
from dashboard.widgets import chart, intro, source_note
from engine.experiments import lab
from engine.experiments.bench import sequential_steps
from engine.inference.translate import InputError, prepare_input

intro("Why Transformers replaced RNNs", """
In 2017 the Transformer replaced recurrent networks as the way machines translate. Six short chapters show
why, each with evidence from models trained here and one thing to try. Where this small machine disagrees with
the textbook, the chapter says so. Words in *italics* are explained in the glossary at the bottom.
""")
models = {e.name: e for e in list_models()}
benches = [load_json(p) for p in bench_files()]
bench = benches[0] if benches else None

st.subheader("1. One word at a time", help=story.GLOSSARY["recurrent network (RNN)"])
st.markdown("A *recurrent network* must finish word 1 before it starts word 2: a long sentence is a long chain of "
            "steps that no hardware can run side by side. A *Transformer* handles all words of a layer at once.")
length = st.slider("Sentence length (tokens)", 5, 200, 40, key="story-length")
c1, c2 = st.columns(2)
c1.metric("GRU: steps one after another", sequential_steps("gru", length))
c2.metric("Transformer: steps one after another", sequential_steps("transformer", length))
gru_layers, transformer_layers = sequential_steps("gru", 1), sequential_steps("transformer", 1)
st.caption(f"Why {sequential_steps('gru', length)} and not {length}? The GRU stacks {gru_layers} recurrent layers "
           f"(encoder and decoder), and each walks the sentence one token after another: {length} × {gru_layers}. "
           f"Each of the Transformer's {transformer_layers} layers takes one step for all tokens at once.")
if bench:
    short, long = (story.training_speed(bench, p, n) for p, n in (("gru", 32), ("gru", 256)))
    t_short, t_long = (story.training_speed(bench, "transformer", n) for n in (32, 256))
    if None not in (short, long, t_short, t_long):
        st.caption(f"On this machine ({story.machine_name(bench)}): at 32 tokens the GRU trains at {short:,.0f} "
                   f"tokens/s and the Transformer at {t_short:,.0f}; at 256 tokens, {long:,.0f} against "
                   f"{t_long:,.0f}. On short sentences and 2 cores the GRU can be faster.")
st.page_link("views/speed.py", label="More on speed", icon=":material/speed:")

st.subheader("2. Gradients that fade", help=story.GLOSSARY["vanishing gradient"])
st.markdown("Learning sends a *gradient* back through every step. In a plain RNN it shrinks at each step, so the "
            "first words of a long sentence barely learn. Attention gives every word a direct path.")
fade_length = st.slider("Sentence length (tokens)", 10, 80, 40, key="story-fade")
flows = {name: st.cache_data(lab.gradient_by_source_position, show_spinner="Measuring…")(preset, fade_length, init=init)
         for name, preset, init in (("RNN (tanh, default init)", "rnn-tanh", "default"), ("GRU", "gru", "orthogonal"),
                                    ("Transformer", "transformer", "orthogonal"))}
rows = [{"model": n, "position": i, "gradient": g} for n, gs in flows.items() for i, g in enumerate(gs)]
chart(figures.lines({n: (list(range(len(gs))), gs) for n, gs in flows.items()}, "Gradient reaching each source word",
                    "source position (0 = first word)", "gradient norm (log scale)", log_y=True),
      rows, "story-gradients.csv", "story-grad",
      "How much learning signal reaches each word; lower on the left means the first words learn least.")
st.caption("Measured live, on freshly initialised small models. Honest note: at initialisation the GRU fades too "
           "(its gates start half open); training and gate-bias tricks are its remedy, clipping is the remedy for "
           "gradients that explode instead.")
c1, c2, c3 = st.columns(3)
c1.page_link("views/playground.py", label="Watch a plain RNN fail to remember", icon=":material/toys:",
             query_params={"preset": "vanishing"})
c2.page_link("views/playground.py", label="Watch clipping tame an exploding RNN", icon=":material/toys:",
             query_params={"preset": "exploding"})
c3.page_link("views/lab.py", label="Run the gradient experiments", icon=":material/science:")

st.subheader("3. A fixed-size bottleneck", help=story.GLOSSARY["attention"])
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

st.subheader("4. Word order", help=story.GLOSSARY["positional encoding"])
st.markdown("Attention alone does not know where a word stands: a Transformer without *positional encodings* "
            "reads a bag of words. Shuffle a sentence and see which model notices.")
sentence = st.text_input("Sentence", "The dog bites the man.", key="story-sentence")
pair = [models[n] for n in ("transformer", "transformer-nopos") if n in models]
if len(pair) == 2 and st.button("Shuffle and translate", key="story-shuffle"):
    try:
        text, _ = prepare_input(sentence)
        translators, _ = load_translators(pair)
        st.session_state.story_order = {n: lab.word_order_check(t, text) for n, t in translators.items()}
        st.session_state.story_shuffled = lab.shuffle_words(text)
    except InputError as exc:
        st.info(str(exc))
for name, check in st.session_state.get("story_order", {}).items():
    st.markdown(f"**{name}**: encoder difference after shuffling {check['gap']:.1e}")
    st.text(f"{check['translation']}\n{check['shuffled_translation']}  ← {st.session_state.story_shuffled}")
st.page_link("views/playground.py", label="Teach two Transformers to reverse letters", icon=":material/toys:",
             query_params={"preset": "word-order"})

st.subheader("5. Long sentences", help=story.GLOSSARY["chrF"])
st.markdown("The longer the sentence, the longer an RNN's chain of steps and the more it must squeeze into its "
            "state. Here are the shipped models on long Bible verses.")
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

st.subheader("6. Parallel hardware", help=story.GLOSSARY["training tokens"])
st.markdown("A GPU runs thousands of operations side by side. Work that waits on the previous step cannot use "
            "them; a Transformer's can. Here is what a second CPU thread bought each model.")
if bench:
    gains = story.thread_gains(bench)
    chart(figures.bars(list(gains), list(gains.values()), "Speed-up from 1 thread to all threads",
                       "times faster", ".2f"), [{"model": m, "speed-up": g} for m, g in gains.items()],
          "story-threads.csv", "story-threads",
          "How much faster each model trained with all threads than with one.")
    st.caption(f"On {story.machine_name(bench)}: two cores are too few to show the gap; a GPU run of "
               "`python -m engine bench` shows it best.")

with st.expander("Glossary"):
    for term, meaning in story.GLOSSARY.items():
        st.markdown(f"**{term}**: {meaning}")
