import streamlit as st

from dashboard import figures, links, translations
from dashboard.i18n import millions, t
from dashboard.models import (
    int8_offered,
    is_recurrent,
    list_models,
    load_translators,
    missing_runs_notice,
    model_meta,
    visible_runs,
)
from dashboard.names import plain_name, what_it_is
from dashboard.widgets import intro, read_sentence, to_csv, waiting_note
from engine.inference import replay
from engine.inference.decoding import SERVING_LENGTH_PENALTY
from engine.inference.translate import MAX_SOURCE_TOKENS

intro(t("Translate"), t("""
Type a sentence and every model translates it side by side. The **recurrent** models (RNN, LSTM, GRU) read
your words one after another; the **Transformers** look at all of them at once through *attention*.
Heatmaps show which input words each model looked at while writing each output word.
"""))

link = links.arrived()  # the query string this view was opened with
LINKED = ["dir", "text", "models", "decoding", "beam", "shuffle", "int8", "race-first", "race-second", "race-clock"]
links.hide_controls(LINKED + ["example"])
mine = visible_runs()
if notice := missing_runs_notice(mine):
    st.info(notice)
entries = list_models(mine)  # the shipped models, and this visitor's own (or linked) trainings
if not entries:
    st.warning(t("No trained models found. Train one with `python -m engine train-all` or on the Training page."))
    st.stop()
metas = {e.name: model_meta(e) for e in entries}  # each config.json read once per render
directions = sorted({d for m in metas.values() if (d := m.get("direction"))}) or ["en-de"]
direction = st.selectbox(t("Direction"), directions, format_func=lambda d: d.replace("-", " → "), key="dir",
                         bind=links.BIND)
# Hugging Face models that do not say their direction are offered for every direction
candidates = [e for e in entries if metas[e.name].get("direction") in (direction, None)]
corpus = next((metas[e.name]["corpus"] for e in candidates if metas[e.name].get("corpus")), "ding-en-de")
examples = st.cache_data(translations.examples, show_spinner=False)(corpus, direction)


def use_example() -> None:
    if st.session_state.example != "—":
        st.session_state.text = st.session_state.example


st.selectbox(t("Pick an example from the test sets (or type your own below)"), ["—"] + examples, key="example",
             on_change=use_example)
text = st.text_area(t("Sentence"), max_chars=None, height=80, placeholder=t("The weather is nice today."), key="text",
                    bind=links.BIND)
if expectation := translations.expectations([metas[e.name] for e in candidates if e.shipped]):
    st.caption(expectation)
names = [e.name for e in candidates]
shipped = [e.name for e in candidates if e.shipped]
chosen = st.multiselect(t("Models"), names, default=shipped or names, format_func=plain_name, key="models",
                        bind=links.BIND,
                        help=t("The shipped models are chosen at first; your own trainings can be added here."))
with st.expander(t("Add your own Hugging Face translation model")):
    st.markdown(t("Put a local `transformers` translation model directory (MarianMT and relatives: `config.json`, "
                  "`model.safetensors`, tokenizer files) into `hf-models/` on the server, or list directories or "
                  "Hugging Face Hub ids such as `Helsinki-NLP/opus-mt-en-de` in the `SEQ2SEQ_HF_MODELS` environment "
                  "variable (separated by `:`), then restart the server. A Hub id loads from the server's Hugging "
                  "Face cache, or is downloaded when the server reaches the internet. Weights load from safetensors "
                  "only: pickled weights (`pytorch_model.bin`) are refused. `python -m engine export-hf "
                  "checkpoints/transformer hf-models/transformer` shows the way with one of ours."))
left, middle, right = st.columns(3)
SEARCHES = ["greedy", "beam search"]  # data: the options' keys, as links carry them
search = left.segmented_control(t("Decoding"), SEARCHES, default="greedy", key="decoding",
                                bind=links.BIND, format_func={"greedy": t("greedy decoding"),
                                                              "beam search": t("beam search")}.get)
beam = middle.slider(t("Beam size"), 2, 8, 5, key="beam", bind=links.BIND,
                     help=t("Hypotheses are ranked by log-probability / length^{penalty:g}, the length penalty that "
                            "scored best on the validation sentences (results/decode-sweep.json).",
                            penalty=SERVING_LENGTH_PENALTY)) if search == "beam search" else 1
shuffle = right.toggle(t("Shuffle the word order"), help=t("Also translate the same words in a random order."),
                       key="shuffle", bind=links.BIND)
offered = sorted(int8_offered([e for e in candidates if e.name in chosen]))
int8 = st.toggle(t("Faster int8 output layer"), key="int8", bind=links.BIND, disabled=not offered, help=t(
    "Keeps the last layer, which scores every word of the vocabulary at each step, in 8-bit integers instead of "
    "32-bit floats: that layer runs several times faster on a CPU. Offered only for models whose test chrF and BLEU "
    "fell by less than 0.3 with it (`python -m engine int8-check`, results/int8-check.json): {models}.",
    models=", ".join(offered) if offered else t("none of the chosen models has passed that check yet")))
links.refused(link, LINKED[:7])


def translate_all(sentence: str) -> dict | None:
    wanted = [e for e in candidates if e.name in chosen]
    with waiting_note(t("Loading {count} models…", count=len(wanted))):  # once per server; later visits find them
        translators, errors = load_translators(wanted, offered if int8 else ())  # in memory
    for name, message in errors.items():
        st.error(t("**{name}** could not be loaded and is skipped:", name=name))
        st.code(message, language=None, wrap_lines=True)
    if not translators:
        return None
    with waiting_note(t("Translating with {count} models…", count=len(translators))):
        return translations.translate_everything(translators, translations.inputs_for(sentence, shuffle), beam)


pressed = st.button(t("Translate"), type="primary", icon=":material/translate:")
links.copy_link(LINKED)
opened_from_link = "text" in link and "translation" not in st.session_state  # a shared link translates at once
if pressed or opened_from_link:
    sentence = read_sentence(text)
    st.session_state.translation = translate_all(sentence) if sentence else None
    st.session_state.pop("race_timelines", None)  # a replay belongs to the sentence it raced
output = st.session_state.get("translation")
if not output:
    st.stop()
inputs, rows, results, parameters = output["inputs"], output["rows"], output["results"], output["parameters"]
names = list(parameters)

by_name = {e.name: e for e in candidates if e.name in names}
recurrent = {n: is_recurrent(e) for n, e in by_name.items()}
presets = {n: metas[n].get("preset") for n in by_name}
title = {n: translations.card_title(n, presets.get(n)) for n in names}
groups = translations.grouped(names, recurrent, presets, {n for n, e in by_name.items() if e.shipped})
for label, source in inputs.items():
    if label == "shuffled":
        st.markdown("**" + t("Shuffled input:") + "**")
        st.text(source)
    for group, members in groups.items():
        st.markdown(f"###### {t(group)}")
        columns = st.columns(min(4, len(names)))
        for i, name in enumerate(members):
            with columns[i % len(columns)].container(border=True):
                result = results[name, label]
                st.markdown(f"**{title[name]}**")
                st.text(result.text or t("(empty output)"))
                what = what_it_is(presets.get(name))
                st.caption((t("{sentence}. ", sentence=what) if what and label == "original" else "")
                           + t("`{name}` · {ms:.0f} ms · {tokens} tokens · {parameters} parameters", name=name,
                               ms=result.ms, tokens=len(result.tokens), parameters=millions(parameters[name]))
                           + (" · " + t("int8 output layer") if name in output.get("int8", ()) else ""))
                if result.truncated:
                    st.caption(":material/content_cut: " + t("only the first {count} subwords of the input were "
                                                             "translated", count=MAX_SOURCE_TOKENS))

# no st.table of the same figures: the cards show them, and a table doubled the browser's drawing work per answer
st.download_button(t("Download translations (CSV)"), to_csv(rows), file_name="translations.csv", mime="text/csv")

st.subheader(t("Where did each model look?"))
st.markdown(t("Each row is a word the model wrote, each column a word of your sentence: the darker the square, the "
              "more the model looked at that word while writing. A recurrent model with attention beside a "
              "Transformer."))
pieces = st.toggle(t("Show subword pieces"), key="attention-pieces", help=t(
    "Models read words in pieces (subwords) from a fixed vocabulary: 'bought' may be read as '▁b' + 'ought', where ▁ "
    "marks the start of a word. Off: the pieces are joined into whole words (attention summed over a word's pieces)."))
looked = {n: results[n, "original"] for n in names}


def average_or_number(choice) -> str:
    return t("average") if choice == "average" else str(choice)



kinds = translations.grouped(names, recurrent, presets)  # a visitor's own models beside the shipped of their kind
with_attention = {kind: [n for n in members if looked[n].attention is not None] for kind, members in kinds.items()}
sides = {kind: members for kind, members in with_attention.items() if members}
for column, (kind, members) in zip(st.columns(max(1, len(sides))), sides.items()):
    with column:
        opening = next((i for i, n in enumerate(members) if n in ("gru-attn", "transformer")), 0)  # the best known
        name = st.selectbox(t(kind).split("：")[0].split(":")[0], members, index=opening, format_func=title.get,
                            key=f"attention-{kind.split(':')[0]}")
        result = looked[name]
        layers, heads = result.attention.shape[:2]
        layer = head = "average"
        if layers * heads > 1:
            c1, c2 = st.columns(2)
            layer = c1.selectbox(t("Layer"), ["average"] + list(range(1, layers + 1)), key=f"layer-{name}",
                                 format_func=average_or_number)
            head = c2.selectbox(t("Head"), ["average"] + list(range(1, heads + 1)), key=f"head-{name}",
                                format_func=average_or_number)
        matrix, where = translations.attention_view(result.attention, layer, head)
        source, outputs = result.source_tokens, result.tokens + ["</s>"]
        if not pieces:
            matrix, source, outputs = translations.whole_words(matrix, source, outputs)
        st.plotly_chart(figures.attention_heatmap(matrix, source, outputs,
                                                  t("{model}: cross-attention ({which})", model=title[name],
                                                    which=where),
                                                  unit=t("subword piece") if pieces else t("word")),
                        width="stretch", key=f"attn-{name}")
        table = figures.attention_rows(matrix, source, outputs)
        st.download_button(t("Download attention (CSV)"), to_csv(table), file_name=f"attention-{name}.csv",
                           mime="text/csv", key=f"attn-csv-{name}")
if blind := [title[n] for n in names if looked[n].attention is None]:
    st.caption(t("No heatmap for {models}: without attention the decoder sees only one fixed-size summary of the "
                 "whole sentence, so there is nothing to draw.", models=", ".join(blind)))

st.subheader(t("Decode race: one word at a time, or all at once?"))
st.markdown(t("Replay how two models handled your sentence. The recurrent encoder reads one word after another; the "
              "Transformer's encoder reads every word at once. Then both write one word per step. Press **Play** or "
              "drag the clock."))
st.markdown(t("**What to expect.** Count *steps* and the Transformer reads a sentence in one step per layer, where "
              "a recurrent model needs one per word and layer: that is the gap a GPU turns into speed, and why "
              "Transformers train much faster on one (Vaswani et al. 2017). On the *milliseconds* clock, on this "
              "small CPU, one sentence at a time, the recurrent model often finishes first: each of its steps is a "
              "tiny computation, and the writing half, one word per step for both, takes most of the time."))
first = next((n for n in ("gru-attn", *names) if recurrent.get(n)), names[0])
second = next((n for n in ("transformer", *names) if recurrent.get(n) is False), names[-1])
c1, c2, c3 = st.columns(3)
pair = [c1.selectbox(t("First model"), list(by_name), index=list(by_name).index(first), format_func=title.get,
                     key="race-first", bind=links.BIND),
        c2.selectbox(t("Second model"), list(by_name), index=list(by_name).index(second), format_func=title.get,
                     key="race-second", bind=links.BIND)]
clock = c3.segmented_control(t("Clock"), ["steps", "ms"], default="steps", key="race-clock", bind=links.BIND,
                             format_func={"steps": t("steps one after another"),
                                          "ms": t("milliseconds (measured)")}.get)
links.refused(link, LINKED[7:])
if st.button(t("Replay the race"), icon=":material/replay:", key="race"):
    translators, _ = load_translators([by_name[n] for n in dict.fromkeys(pair)])
    st.session_state.race_timelines = {n: replay.decode_timeline(tr, inputs["original"])
                                       for n, tr in translators.items()}
    st.session_state.pop("race-moment", None)  # a new race starts at its start
timelines = st.session_state.get("race_timelines")
if timelines:
    # the chart's Play button takes a mouse; this slider steps the same clock with the arrow keys
    moment = st.slider(t("The race's clock (arrow keys step through it)"), 0, figures.RACE_FRAMES, 0, key="race-moment")
    st.plotly_chart(figures.decode_race({title[n]: tl for n, tl in timelines.items()}, clock or "steps",
                                        shown=moment / figures.RACE_FRAMES), width="stretch", key="race-chart")
    st.caption(" · ".join(t("**{model}** read {tokens} tokens in {steps} steps one after another ({how}), "
                            "wrote {written} tokens in {write_steps} steps ({layers} decoder layers per word), "
                            "{ms:.1f} ms in all", model=title[n], tokens=len(tl.source_tokens), steps=tl.encoder_steps,
                            how=t("{tokens} tokens × {layers} recurrent layers, each waiting for the token before",
                                  tokens=len(tl.source_tokens), layers=tl.encoder_layers) if tl.reads_in_order else
                            t("one per layer, {layers} layers, all tokens at once", layers=tl.encoder_layers),
                            written=len(tl.output_tokens), write_steps=len(tl.output_tokens) * tl.decoder_layers,
                            layers=tl.decoder_layers, ms=tl.total_ms)
                          for n, tl in timelines.items())
               + t(". Milliseconds measured now on this server (the fastest of 3 runs). The Transformer's advantage is "
                   "in reading and in training, where all target words are known at once."))
