import random

import streamlit as st
from sacrebleu.metrics import CHRF

from dashboard import figures
from dashboard.models import list_models, load_eval, load_metrics
from dashboard.widgets import chart, intro, source_note, to_csv
from engine import corpora

intro("Quality", """
How good is each model? Every model translated the same 1,000 held-out test sentences it never saw in
training, and [sacrebleu](https://github.com/mjpost/sacrebleu) compared them with human translations:
**BLEU** and **chrF** (higher is better, 0–100) and **TER** (edits needed, lower is better).
""")

evals = {e.name: ev for e in list_models() if (ev := load_eval(e))}
if not evals:
    st.warning("No evaluation results yet: run `python -m engine eval CHECKPOINT` or train a model on the Training page.")
    st.stop()

rows = [{"model": name, "corpus": ev["corpus"], "direction": ev["direction"], "BLEU": ev["bleu"], "chrF": ev["chrf"],
         "TER": ev["ter"], "test perplexity": ev["perplexity"], "parameters (M)": round(ev["parameters"] / 1e6, 2),
         "training minutes": ev.get("train_minutes"), "beam": ev["decoding"]["beam"], "sentences": ev["sentences"]}
        for name, ev in evals.items()]
st.dataframe(rows, hide_index=True, width="stretch")
first = next(iter(evals.values()))
source_note(f"From each checkpoint's eval.json, made by `{first['command']}` (and likewise for the others). "
            f"BLEU signature `{first['bleu_signature']}` · chrF `{first['chrf_signature']}` · TER `{first['ter_signature']}`")

metric = st.segmented_control("Metric", ["BLEU", "chrF", "TER"], default="BLEU") or "BLEU"
chart(figures.bars([r["model"] for r in rows], [r[metric] for r in rows], f"{metric} on the test split",
                   f"{metric} (0-100, {'lower' if metric == 'TER' else 'higher'} is better)"), rows, "quality.csv", "quality")

st.subheader("The learning-curve race")
st.markdown("Every shipped model had the same budget of training tokens. During training each one translated the "
            "same validation sentences at fixed intervals; this race shows how quickly each learned.")
c1, c2 = st.columns(2)
y = c1.segmented_control("Score", ["valid_chrf", "valid_bleu"], default="valid_chrf",
                         format_func=lambda k: "chrF" if k == "valid_chrf" else "BLEU", key="race-y") or "valid_chrf"
x = c2.segmented_control("Against", ["tokens_seen", "train_minutes"], default="tokens_seen", key="race-x",
                         format_func=lambda k: "training tokens" if k == "tokens_seen" else "training minutes") or "tokens_seen"
runs = {e.name: records for e in list_models() if e.shipped and any(r.get("kind") == "eval" and y in r
                                                                      for r in (records := load_metrics(e.metrics)))}
if runs:
    race_rows = [{"model": n, "x": px, "score": py} for n, r in runs.items() for px, py in zip(*figures.metric_series(r, y, x))]
    chart(figures.training_curves(runs, y, x, kind="eval"), race_rows, "learning-curves.csv", "race")
    leaders = figures.race_leaders(runs, y, x)
    unit = "tokens" if x == "tokens_seen" else "minutes"
    story = f"**{leaders[0][1]}** leads first" + "".join(f", **{name}** takes the lead at {point:,.0f} {unit}"
                                                         for point, name in leaders[1:]) + "."
    st.markdown(story if len(leaders) > 1 else f"**{leaders[0][1]}** leads from start to finish.")
    source_note("From each shipped checkpoint's metrics.jsonl (validation: greedy decoding of the first 200 validation "
                "sentences), written by `python -m engine train-all`.")
else:
    st.info("No shipped model has validation scores in its metrics.jsonl yet.")

st.subheader("Long sentences")
st.markdown("Claim 4 says recurrent models fall behind as sentences grow. ding-en-de's sentences are short (about 8 "
            "words); bible-en-de's verses are long (about 25 words, many over 40).")
metric = st.segmented_control("Score", ["chrf", "bleu"], default="chrf", key="length-metric",
                              format_func=lambda k: "chrF" if k == "chrf" else "BLEU") or "chrf"
for corpus in corpora.CORPORA:
    of_corpus = {e.name: ev for e in list_models() if (ev := load_eval(e, corpus)) and ev["corpus"] == corpus
                 and "by_length" in ev}
    if not of_corpus:
        continue
    rows_by_model = {n: ev["by_length"] for n, ev in of_corpus.items()}
    length_rows = [{"model": n, **row} for n, rows in rows_by_model.items() for row in rows]
    chart(figures.by_length(rows_by_model, metric, corpus), length_rows, f"by-length-{corpus}.csv", f"length-{corpus}")
    source_note(f"From each checkpoint's {'eval.json' if corpus == first['corpus'] else f'eval-{corpus}.json'}, "
                f"made by `{next(iter(of_corpus.values()))['command']}` (and likewise for the others).")

st.subheader("Gallery of test sentences")
corpus = st.selectbox("Corpus", sorted({ev["corpus"] for ev in evals.values()}))
direction = next(ev["direction"] for ev in evals.values() if ev["corpus"] == corpus)
pairs = corpora.load_split(corpus, "test", direction)
models = {n: ev for n, ev in evals.items()
          if ev["corpus"] == corpus and ev["direction"] == direction and len(ev.get("hypotheses", [])) == len(pairs)}
if not models:
    st.info("No model has outputs for the whole test split of this corpus (browser-trained models are scored on part of it).")
    st.stop()


@st.cache_data(show_spinner=False)
def sentence_scores(hypotheses: tuple[tuple[str, ...], ...], references: tuple[str, ...]) -> list[float]:
    """Mean sentence chrF over the models, per test sentence."""
    chrf = CHRF()
    return [sum(chrf.sentence_score(h[i], [references[i]]).score for h in hypotheses) / len(hypotheses)
            for i in range(len(references))]


c1, c2, c3 = st.columns(3)
order = c1.segmented_control("Show", ["best", "worst", "random"], default="random", key="gallery-order") or "random"
max_words = max(len(s.split()) for s, _ in pairs)
low, high = c2.slider("Source length (words)", 1, max_words, (1, max_words))
count = c3.number_input("Sentences", 1, 50, 10)
indices = [i for i, (s, _) in enumerate(pairs) if low <= len(s.split()) <= high]
scores = sentence_scores(tuple(tuple(ev["hypotheses"]) for ev in models.values()), tuple(t for _, t in pairs))
if order == "random":
    indices = random.Random(0).sample(indices, min(count, len(indices)))
else:
    indices = sorted(indices, key=lambda i: scores[i], reverse=order == "best")[:count]
gallery = [{"source": pairs[i][0], "reference": pairs[i][1], "mean chrF": round(scores[i], 1),
            **{name: ev["hypotheses"][i] for name, ev in models.items()}} for i in indices]
st.dataframe(gallery, hide_index=True, width="stretch")
st.download_button("Download gallery (CSV)", to_csv(gallery), file_name="gallery.csv", mime="text/csv")
