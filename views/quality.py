import streamlit as st

from dashboard import figures, links, quality
from dashboard.i18n import N_, t
from dashboard.models import list_models, load_eval, load_metrics, staged_models, visible_runs
from dashboard.widgets import chart, intro, source_note, table, to_csv
from engine.data import corpora
from engine.paths import CHECKPOINTS_DIR
from engine.shipping import sets

intro(t("Quality"), t("""
Which model translates best? Read the verdict, then the bars: every model translated the same test sentences it
never saw in training, and [sacrebleu](https://github.com/mjpost/sacrebleu) compared each output with a human
translation. Further down: how quickly each one learned, how it copes with long sentences, and real examples.
"""))

GALLERY_ORDERS = {"best": N_("best"), "worst": N_("worst"), "random": N_("random")}
link = links.arrived()
LINKED = ["test-set", "metric", "race-y", "race-x", "length-metric", "gallery-order", "gallery-words", "gallery-count"]
links.hide_controls(LINKED)
links.copy_link(LINKED)
models = list_models(visible_runs())
test_sets = [c for c in corpora.CORPORA if any(load_eval(e, c) and load_eval(e, c)["corpus"] == c for e in models)]
if not test_sets:
    st.warning(t("No evaluation results yet: run `python -m engine eval CHECKPOINT` or train a model on the Training "
                 "page."))
    st.stop()
corpus = st.segmented_control(t("Test sentences"), test_sets, default=test_sets[0], key="test-set", bind=links.BIND,
                              format_func=lambda c: t(quality.TEST_SETS[c]) if c in quality.TEST_SETS else c) \
    or test_sets[0]
evals = {e.name: ev for e in models if (ev := load_eval(e, corpus)) and ev["corpus"] == corpus}
rows = quality.score_rows(evals)
st.markdown(quality.verdict(rows))
st.caption(quality.set_story(sets.summary(CHECKPOINTS_DIR)))
metric = st.segmented_control(
    t("Metric"), ["chrF", "BLEU", "TER"], default="chrF", key="metric", bind=links.BIND,
    help=t("**chrF** counts matching character sequences and is kind to near misses; **BLEU** counts matching word "
           "sequences (both 0-100, higher is better); **TER** counts the edits still needed (lower is better).")) \
    or "chrF"
chart(figures.bars([r["model"] for r in rows], [r[metric] for r in rows],
                   t("{metric} on the {corpus} test split", metric=metric, corpus=corpus),
                   t("{metric} (0-100, lower is better)", metric=metric) if metric == "TER" else
                   t("{metric} (0-100, higher is better)", metric=metric)), rows, "quality.csv", "quality",
      t("One bar per model: its score on the same test sentences."))
table(rows)
first = next(iter(evals.values()))
source_note(t("From each checkpoint's eval file (eval.json for the corpus it was trained on, eval-<corpus>.json for "
              "another), made by `{command}` (and likewise for the others). BLEU `{bleu}` · chrF `{chrf}` · TER "
              "`{ter}`", command=first["command"], bleu=first["bleu_signature"], chrf=first["chrf_signature"],
              ter=first["ter_signature"]))

st.subheader(t("The learning-curve race"))
st.markdown(t("Every shipped model had the same budget of training tokens. During training each one translated the "
              "same validation sentences at fixed intervals; the race shows how quickly each learned."))
c1, c2 = st.columns(2)
y = c1.segmented_control(t("Score"), ["valid_chrf", "valid_bleu", "valid_chrf_bible-en-de"], default="valid_chrf",
                         key="race-y", bind=links.BIND, format_func=figures.label) or "valid_chrf"
x = c2.segmented_control(t("Against"), ["tokens_seen", "train_minutes"], default="tokens_seen", key="race-x",
                         bind=links.BIND, format_func=figures.label) or "tokens_seen"
logs = {e.name: load_metrics(e.metrics) for e in models + staged_models() if e.shipped or e.staged}
runs = {name: records for name, records in logs.items() if any(r.get("kind") == "eval" and y in r for r in records)}
if runs:
    race_rows = [{"model": n, x: px, y: py} for n, r in runs.items() for px, py in zip(*figures.metric_series(r, y, x))]
    chart(figures.training_curves(runs, y, x, kind="eval"), race_rows, "learning-curves.csv", "race",
          t("Validation score during training: who learned faster, and who was still improving at the end."))
    st.markdown(quality.race_story(figures.race_leaders(runs, y, x), N_("tokens") if x == "tokens_seen" else
                                   N_("minutes")))
    source_note(t("From each shipped checkpoint's metrics.jsonl (greedy decoding of the first 200 ding-en-de and 100 "
                  "bible-en-de validation sentences), written by `python -m engine train-all`. Models marked \"next "
                  "set\" are staged by `python -m engine train-set` for the next shipped set, with a larger budget; "
                  "they are not on the rest of this page until the whole set is done."))
else:
    st.info(t("No shipped model has these validation scores in its metrics.jsonl yet."))

st.subheader(t("Long sentences"))
st.markdown(t("Claim 4 says recurrent models fall behind as sentences grow. Here is each model's score for test "
              "sentences of different lengths."))
length_metric = st.segmented_control(t("Score"), ["chrf", "bleu"], default="chrf", key="length-metric", bind=links.BIND,
                                     format_func=lambda k: "chrF" if k == "chrf" else "BLEU") or "chrf"
by_length = {n: ev["by_length"] for n, ev in evals.items() if "by_length" in ev}
if by_length:
    length_rows = [{"model": n, **row} for n, rows_ in by_length.items() for row in rows_]
    chart(figures.by_length(by_length, length_metric, corpus), length_rows, f"by-length-{corpus}.csv", "length",
          t("Score for short to long test sentences: a falling line means long sentences are harder."))

st.subheader(t("Gallery of test sentences"))
pairs = corpora.load_split(corpus, "test", first["direction"])
outputs = {n: ev["hypotheses"] for n, ev in evals.items()
           if ev["direction"] == first["direction"] and len(ev.get("hypotheses", [])) == len(pairs)}
if not outputs:
    st.info(t("No model has outputs for the whole test split (browser-trained models are scored on part of it)."))
    st.stop()
scores = st.cache_data(quality.sentence_chrf, show_spinner=False)(list(outputs.values()), [t for _, t in pairs])
c1, c2, c3 = st.columns(3)
order = c1.segmented_control(t("Show"), ["best", "worst", "random"], default="random", key="gallery-order",
                             bind=links.BIND, format_func=lambda o: t(GALLERY_ORDERS[o])) or "random"
max_words = max(len(s.split()) for s, _ in pairs)
words = c2.slider(t("Source length (words)"), 1, max_words, (1, max_words), key="gallery-words", bind=links.BIND)
count = c3.number_input(t("Sentences"), 1, 50, 10, key="gallery-count", bind=links.BIND)
links.refused(link, LINKED)
gallery = quality.gallery_rows(pairs, outputs, scores, order, words, count)
table(gallery)
st.download_button(t("Download gallery (CSV)"), to_csv(gallery), file_name="gallery.csv", mime="text/csv")
