import streamlit as st

from dashboard import figures
from dashboard.i18n import N_, t
from dashboard.jobs import JobError, manager
from dashboard.models import RUNS_DIR, list_models, load_metrics, missing_runs_notice, remember_run, visible_runs
from dashboard.names import described, plain_name
from dashboard.widgets import chart, intro
from engine.data import corpora
from engine.models import PRESETS
from engine.training.trainer import TrainConfig

intro(t("Training"), t("""
Train a translator yourself and watch it learn. Pick an architecture and a time budget; training runs in the
background on this server (you can keep using the other pages). The curves update live; compare them with the
shipped models, which all had the same budget. When it finishes, your model appears on your Translate and
Quality pages (not on other visitors': share it with a link).
"""))

c1, c2, c3 = st.columns(3)
name = c1.text_input(t("Name of your model"), value="my-gru", max_chars=40)
preset = c2.selectbox(t("Architecture"), list(PRESETS), index=list(PRESETS).index("gru-attn"),
                      format_func=plain_name)
size = c3.segmented_control(t("Size"), ["tiny", "base"], default="tiny",
                            help=t("tiny: 32-wide, learns a little in a minute; base: the shipped models' size")) \
    or "tiny"
c4, c5, c6 = st.columns(3)
corpus = c4.selectbox(t("Corpus"), list(corpora.CORPORA))
direction = c5.selectbox(t("Direction"), corpora.directions(corpus))
minutes = c6.slider(t("Time budget (minutes)"), 0.5, 30.0, 2.0, step=0.5)
st.caption("**" + t("{sentence}.", sentence=described(preset)) + "**")
if st.button(t("Start training"), type="primary", icon=":material/play_arrow:"):
    try:
        config = TrainConfig(preset=preset, size=size, corpus=corpus, direction=direction, minutes=minutes,
                             eval_every=100, checkpoint_every=100)
        manager.start(name.strip(), config)
        remember_run(name.strip())
        st.session_state.watching = name.strip()
        st.success(t("Training {name} started. It is yours: it shows on your Translate and Quality pages, not on "
                     "other visitors'. To share it, send the link below.", name=name.strip()))
        st.page_link("views/translate.py", label=t("Translate with {name}", name=name.strip()),
                     icon=":material/link:", query_params={"runs": name.strip()})
    except JobError as exc:
        st.warning(str(exc))

mine = visible_runs()
if notice := missing_runs_notice(mine):
    st.info(notice)
runs = [n for n in mine if (RUNS_DIR / n / "metrics.jsonl").exists()]
watching = st.session_state.get("watching")
if runs:
    selected = st.selectbox(t("Watch run"), runs, index=runs.index(watching) if watching in runs else 0)
    overlay = st.toggle(t("Overlay the shipped models"), value=True)
else:
    selected, overlay = None, True
    st.info(t("You have not trained a model here yet. Below: how the shipped models learned, which your model will "
              "join here once it starts."))
X_AXES = {"tokens_seen": t("training tokens"), "step": t("optimizer steps"), "wall_seconds": t("wall-clock time")}
x_axis = st.segmented_control(t("Horizontal axis"), list(X_AXES), default="tokens_seen",
                              format_func=X_AXES.get) or "tokens_seen"


CURVE_CAPTIONS = {
    "loss": N_("Training loss: how wrong the model is on the batches it learns from (lower is better)."),
    "valid_chrf": N_("chrF on validation sentences it never trains on (higher is better)."),
    "grad_norm": N_("Size of each training step's gradient before clipping; spikes are exploding gradients.")}
STATUS = {"starting": N_("starting"), "training": N_("training"), "evaluating": N_("evaluating"),
          "finished": N_("finished"), "failed": N_("failed")}


def curves() -> None:
    """The selected run's progress and curves, beside the shipped models' (or theirs alone)."""
    job = manager.jobs.get(selected)
    if job:
        icons = {"finished": ":material/check_circle:", "failed": ":material/error:"}
        icon = icons.get(job.status, ":material/hourglass_top:")
        st.markdown(f"{icon} **{selected}**: {t(STATUS.get(job.status, job.status))} {t(job.message)}")
        if job.thread and job.thread.is_alive() and st.button(t("Stop"), icon=":material/stop:", key="stop"):
            job.stop.set()
    records = {selected: load_metrics(RUNS_DIR / selected / "metrics.jsonl")} if selected else {}
    if overlay:
        records.update({plain_name(e.name): load_metrics(e.metrics) for e in list_models() if e.shipped})
    steps = [r for r in records.get(selected, []) if r.get("kind") == "step"]
    if steps:
        last = steps[-1]
        c1, c2, c3, c4 = st.columns(4)
        c1.metric(t("step"), last["step"])
        c2.metric(t("loss"), f"{last['loss']:.3f}")
        c3.metric(t("tokens/s"), f"{last['tokens_per_s']:,.0f}")
        c4.metric(t("training time"), t("{minutes:.1f} min", minutes=last["train_seconds"] / 60))
    for metric, kind, smooth in (("loss", "step", 10), ("valid_chrf", "eval", 1), ("grad_norm", "step", 10)):
        rows = [{"run": n, **r} for n, rs in records.items() for r in rs if r.get("kind") == kind]
        chart(figures.training_curves(records, metric, x_axis, kind, smooth), rows, f"{metric}.csv", f"{metric}",
              t(CURVE_CAPTIONS[metric]))


if selected:
    st.fragment(run_every=2)(curves)()  # live while the run trains
else:
    curves()  # the shipped runs do not change: drawn once
