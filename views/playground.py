import streamlit as st

from dashboard import figures, links
from dashboard import playground as pg
from dashboard.i18n import t
from dashboard.models import load_json
from dashboard.widgets import chart, intro, source_note, table
from engine.experiments.toy import FAMILIES, OPTIMIZERS, POSITIONALS, PRESETS, TASKS, ToyTask

intro(t("Playground"), t("""
Tiny problems that train in seconds on this server. Pick an experiment, press **Train**, and watch two to four
models learn the same task side by side, with the same data and the same seed (so a rerun draws the same curves).
Each preset shows one claim of the story; change any knob to see what moves it.
"""))

CUSTOM = "custom"
names = [*PRESETS, CUSTOM]
link = links.arrived()
asked = st.query_params.get("preset", names[0])
if asked not in names:  # the link's value is not echoed: it is untrusted text
    st.warning(t("This link's preset is not one of the experiments here; showing “{title}” instead.",
                 title=t(PRESETS[names[0]].title)))
    asked = names[0]
if asked != st.session_state.get("pg-linked"):  # arrived through a link (or a changed URL): the link wins
    st.session_state["pg-preset"] = asked
choice = st.pills(t("Experiment"), names, key="pg-preset",
                  format_func=lambda n: t(PRESETS[n].title) if n in PRESETS else t("Your own")) or asked
st.query_params["preset"] = st.session_state["pg-linked"] = choice  # the link is the lesson: share it, it opens
preset = PRESETS.get(choice)
base = preset or PRESETS[names[0]]
LINKED = [f"{knob}-{choice}" for knob in ("task", "length", "vocab", "seconds", "seed")]  # each experiment's own
links.hide_controls(LINKED)
links.copy_link(LINKED)
if preset:
    st.markdown(f"**{t(preset.claim)}** {t(preset.look_for)}")
    checks = pg.PRESET_CHECKS
    if sentence := pg.preset_check_sentence(load_json(checks) if checks.is_file() else None, choice):
        source_note(sentence)
else:
    st.markdown(t("Build your own race: pick a task and up to four models below."))

with st.expander(t("The task and the models"), expanded=preset is None):
    c1, c2, c3, c4, c5 = st.columns(5)
    task_name = c1.selectbox(t("Task"), list(TASKS), index=list(TASKS).index(base.task.name), key=f"task-{choice}",
                             bind=links.BIND,
                             help="\n".join(f"- **{k}**: {t(v)}" for k, v in TASKS.items()))
    length = c2.slider(t("Longest sequence"), 2, 60, base.task.length, key=f"length-{choice}", bind=links.BIND,
                       help=t("Sequences are 1 to this many letters long (remember: half to all of it). Dates ignore "
                              "it."))
    vocab = c3.slider(t("Different letters"), 2, 26, base.task.vocab, key=f"vocab-{choice}", bind=links.BIND,
                      help=t("Dates ignore it."))
    seconds = c4.slider(t("Seconds per model"), 5, pg.MAX_SECONDS, int(base.seconds), key=f"seconds-{choice}",
                        bind=links.BIND,
                        help=t("Training time of each model; the models take turns, one step each."))
    seed = c5.number_input(t("Seed"), 0, 999, 0, key=f"seed-{choice}", bind=links.BIND,
                           help=t("Same seed, same weights and data."))
    links.refused(link, LINKED)
    edited = st.data_editor(
        pg.contestant_rows(base.models), num_rows="dynamic", width="stretch", key=f"models-{choice}",
        column_config={
            "family": st.column_config.SelectboxColumn(t("family"), options=FAMILIES, required=True),
            "attention": st.column_config.CheckboxColumn(t("attention"),
                                                         help=t("Recurrent models: look back at the input")),
            "positional": st.column_config.SelectboxColumn(t("positions"), options=POSITIONALS,
                                                           help=t("Transformers: how word order is seen")),
            "width": st.column_config.NumberColumn(t("width"), min_value=8, max_value=256, step=4),
            "layers": st.column_config.NumberColumn(t("layers"), min_value=1, max_value=4, step=1),
            "lr": st.column_config.NumberColumn(t("learning rate"), min_value=1e-5, max_value=1.0, format="%.4f"),
            "clip": st.column_config.CheckboxColumn(t("clip gradients"), help=t("Clip the gradient norm at 1")),
            "optimizer": st.column_config.SelectboxColumn(t("optimizer"), options=OPTIMIZERS),
            "init_scale": st.column_config.NumberColumn(t("recurrent weight scale"), min_value=0.1, max_value=4.0,
                                                        help=t("Above 1, signals grow at every step (exploding)")),
            "forget_bias": st.column_config.NumberColumn(t("LSTM forget bias"), min_value=-5.0, max_value=5.0,
                                                         help=t("1 keeps an LSTM's memory open from the start")),
        })

background: pg.BackgroundRace | None = st.session_state.get("pg-race")
running = bool(background and background.running)
b1, b2, b3 = st.columns([1, 1, 6])
if b1.button(t("Train"), type="primary", icon=":material/play_arrow:", disabled=running):
    try:
        task = ToyTask(task_name, length, vocab)
        models = pg.contestants_from_rows(edited.to_dict("records") if hasattr(edited, "to_dict") else edited)
        st.session_state["pg-race"] = background = pg.start(task, models, seconds, int(seed))
        running = True
    except (pg.PlaygroundError, ValueError) as exc:
        st.warning(t(exc.args[0]))
if b2.button(t("Stop"), icon=":material/stop:", disabled=not running) and background:
    background.race.stop.set()
if b3.button(t("Reset"), icon=":material/restart_alt:", disabled=background is None):
    if background:
        background.race.stop.set()
    st.session_state.pop("pg-race", None)
    background = None
    st.rerun()

if background is None:
    st.info(t("Press **Train** to start the race."))
    st.stop()

X_AXES = {"seconds": t("training seconds"), "step": t("training steps")}
x_axis = st.segmented_control(t("Horizontal axis"), list(X_AXES), default="seconds", key="pg-x",
                              format_func=X_AXES.get) or "seconds"


def show_race(background: pg.BackgroundRace) -> None:
    race = background.race
    names = {c.setup.label: pg.label_of(c.setup) for c in race.contestants}  # in the page's language
    rows = [{**row, "model": names.get(row["model"], row["model"])} for row in race.snapshot()]
    latest = race.latest()
    status = t("training…") if background.running else (t("stopped") if race.stop.is_set() else t("finished"))
    st.markdown(t("**Race {status}** ({task}, {seconds:g} s per model, seed {seed})", status=status,
                  task=race.task.name, seconds=background.seconds, seed=race.seed))
    if background.error:
        st.error(t("The race stopped: {why}", why=background.error))
    columns = st.columns(len(latest))
    for column, contestant, (setup, result) in zip(columns, race.contestants, latest):
        column.metric(names[setup.label], f"{result.get('accuracy', 0):.0%}", help=t("Sequences entirely right"))
        column.caption(t("{steps} steps in {seconds:.1f} s", steps=contestant.steps, seconds=contestant.seconds)
                       + (t(". Stopped: {why}.", why=contestant.failed) if contestant.failed else ""))
    x_title = X_AXES[x_axis]
    trained = [r for r in rows if "train_loss" in r]
    left, right = st.columns(2)
    with left:
        chart(figures.lines(figures.grouped_series(rows, "model", x_axis, "accuracy"),
                            t("Sequences entirely right (held-out examples)"), x_title, t("accuracy"),
                            mode="lines+markers"),
              rows, "playground-accuracy.csv", "pg-accuracy",
              t("Share of held-out examples each model gets entirely right; higher is better."))
        chart(figures.lines(figures.grouped_series(trained, "model", x_axis, "grad_norm"),
                            t("Largest gradient norm (before clipping)"), x_title, t("gradient norm (log scale)"),
                            log_y=True, mode="lines+markers"),
              trained, "playground-gradients.csv", "pg-gradients",
              t("The largest gradient since the last point: spikes are exploding gradients."))
    with right:
        chart(figures.lines(figures.grouped_series(rows, "model", x_axis, "test_loss"),
                            t("Held-out loss (lower is better)"), x_title, t("cross-entropy per token"),
                            mode="lines+markers"),
              rows, "playground-loss.csv", "pg-loss",
              t("How wrong each model still is on the held-out examples."))
    by_length = [{"model": names[setup.label], "length": n, "accuracy": a}
                 for setup, result in latest for n, a in result.get("accuracy_by_length", {}).items()]
    if race.task.name != "dates":
        with right:
            chart(figures.lines(figures.grouped_series(by_length, "model", "length", "accuracy"),
                                t("Accuracy by sequence length (latest evaluation)"), t("letters in the input"),
                                t("sequences entirely right"), mode="lines+markers"),
                  by_length, "playground-by-length.csv", "pg-by-length",
                  t("Which lengths each model already gets right: a fall to the right is the bottleneck."))
    ran = PRESETS.get(choice)
    same_setup = ran and race.task == ran.task and [c.setup for c in race.contestants] == list(ran.models)
    if same_setup and not background.running and all(c.history for c in race.contestants):
        shown, numbers = ran.outcome([c.history[-1] for c in race.contestants])
        if shown:
            st.success(t("This run shows it. {figures}.", figures=t(numbers, **{
                k: names.get(v, v) for k, v in numbers.values.items()})), icon=":material/check_circle:")
        else:
            st.warning(t("This run did not show it on this machine. {figures}. Try more seconds or another seed.",
                         figures=t(numbers, **{k: names.get(v, v) for k, v in numbers.values.items()})))
    st.markdown(t("**Examples** (held out: never trained on)"))
    examples = []
    for i, (source, target) in enumerate(race.test[:6]):
        row = {"input": race.task.render(source), "expected": race.task.render(target)}
        for setup, result in latest:
            outputs = result.get("outputs")
            if outputs:
                text = race.task.render(outputs[i])
                row[names[setup.label]] = ("✓ " if text == row["expected"] else "✗ ") + text
        examples.append(row)
    table(examples)
    if not background.running and st.session_state.get("pg-was-running"):
        st.session_state["pg-was-running"] = False
        st.rerun()  # a full rerun: the buttons wake up and the fragment stops polling
    st.session_state["pg-was-running"] = background.running


st.fragment(run_every=1.0 if running else None)(show_race)(background)
