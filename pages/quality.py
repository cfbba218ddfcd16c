import random

import streamlit as st
from sacrebleu.metrics import CHRF

from dashboard import figures
from dashboard.models import list_models, load_eval
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

st.subheader("Long sentences")
st.markdown("BLEU for source sentences of different lengths (in words). Claim 4 says recurrent models fall behind as "
            "sentences grow; the shipped ding-en-de sentences are short (8 words on average), the bible-en-fr corpus "
            "has long ones (about 25).")
for corpus in corpora.CORPORA:
    of_corpus = {n: ev for n, ev in evals.items() if ev["corpus"] == corpus}
    if not of_corpus:
        st.info(f"No model evaluated on **{corpus}** yet. Train one on the Training page (pick corpus {corpus}) "
                f"or run `python -m engine train --corpus {corpus}`.")
        continue
    length_rows = [{"model": n, **row} for n, ev in of_corpus.items() for row in ev["bleu_by_length"]]
    fig = figures.lines({n: ([r["bucket"] for r in ev["bleu_by_length"]], [r["bleu"] for r in ev["bleu_by_length"]])
                         for n, ev in of_corpus.items()}, f"BLEU by source length — {corpus}",
                        "source length (words)", "BLEU (0-100)", mode="lines+markers")
    chart(fig, length_rows, f"bleu-by-length-{corpus}.csv", f"length-{corpus}")

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
order = c1.segmented_control("Show", ["best", "worst", "random"], default="random") or "random"
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
