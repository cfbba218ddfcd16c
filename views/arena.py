import random

import streamlit as st

from dashboard import arena, figures, links
from dashboard.i18n import t
from dashboard.models import list_models, load_translators
from dashboard.widgets import chart, intro, read_sentence, source_note, table
from engine.arena import ratings
from engine.arena.store import VERDICTS, ArenaUnavailable, VoteRefused
from engine.paths import CHECKPOINTS_DIR

intro(t("Arena"), t("""
Which translation do **you** prefer? Two of the shipped models, drawn at random and shown without their names,
translate the same sentence. Vote for the better one; the names appear after your vote. Every vote joins a
leaderboard below, beside the automatic chrF score.
"""))

try:
    store = arena.open_arena()
except ArenaUnavailable as exc:
    st.error(t(exc.args[0]))
    st.stop()
entries = [e for e in list_models() if e.shipped]
if len(entries) < 2:
    st.warning(t("The arena needs at least two shipped models."))
    st.stop()

if st.button(t("Give me a sentence"), icon=":material/casino:", key="draw"):
    drawn = arena.test_sentence(random.Random())
    st.session_state.update(arena_draw=drawn, sentence=drawn["sentence"])
# only the sentence travels in a link: the hidden models never do
text = st.text_area(t("Sentence"), key="sentence", bind=links.BIND, height=80,
                    placeholder=t("Type an English sentence, or draw one."))
links.hide_controls(["sentence"])
links.copy_link(["sentence"])
if st.button(t("Start battle"), type="primary", icon=":material/swords:", key="start") and \
        (sentence := read_sentence(text)):
    try:
        drawn = st.session_state.get("arena_draw") or {}
        from_test = drawn.get("sentence") == sentence
        translators, errors = load_translators(entries)
        for name, message in errors.items():
            st.error(t("**{name}** could not be loaded and sits this battle out: {why}", name=name, why=message))
        if len(translators) < 2:
            st.stop()
        st.session_state.battle = arena.start_battle(store, translators, sentence,
                                                     drawn["source"] if from_test else "typed",
                                                     drawn["reference"] if from_test else None)
    except ArenaUnavailable as exc:
        st.error(t(exc.args[0]))

battle = st.session_state.get("battle")
if battle:
    voted = battle["verdict"] is not None
    columns = st.columns(2)
    for side, column, output, model in zip("AB", columns, battle["outputs"], battle["models"]):
        column.markdown(f"**{side}**" + (f" — {model}" if voted else ""))
        column.text(output)
        if voted and battle["reference"]:
            column.caption(t("chrF against the reference: {score}",
                             score=arena.sentence_chrf(output, battle["reference"])))
    buttons = st.columns(4)
    for column, verdict in zip(buttons, VERDICTS):
        if column.button(t(arena.VERDICT_WORDS[verdict]), key=f"vote-{verdict}", disabled=voted, width="stretch"):
            try:
                store.record_vote(battle["id"], arena.visitor(), verdict)
                battle["verdict"] = verdict
                st.rerun()
            except VoteRefused as exc:
                st.info(t("This vote was not counted: {why}.", why=t(exc.args[0])))
            except ArenaUnavailable as exc:
                st.error(t(exc.args[0]))
    if voted:
        st.success(t("Your vote: **{verdict}**. A was {a}, B was {b}.", verdict=t(arena.VERDICT_WORDS[
            battle["verdict"]]), a=battle["models"][0], b=battle["models"][1]))
        if battle["reference"]:
            st.markdown(t("Reference translation ({source}):", source=battle["source"]))
            st.text(battle["reference"])
        if st.button(t("Next battle"), icon=":material/arrow_forward:", key="next"):
            st.session_state.pop("battle")
            st.rerun()

st.subheader(t("Leaderboard"))
try:
    votes = store.votes()
except ArenaUnavailable as exc:
    st.error(t(exc.args[0]))
    st.stop()
if not votes:
    st.info(t("No votes yet: start a battle above."))
    st.stop()
split = st.segmented_control(t("Sentences"), list(arena.SPLITS), default="all", key="arena-split",
                             format_func=lambda s: t(arena.SPLIT_WORDS[s], words=arena.SHORT_WORDS)) or "all"
board = arena.leaderboard(votes, split)
if not board:
    st.info(t("No votes on such sentences yet."))
    st.stop()
leader = board[0]
after = t("After 1 vote") if len(votes) == 1 else t("After {count} votes", count=len(votes))
st.markdown(after + t(", people prefer **{model}** (rating {rating}, 95 % interval {low}–{high}).",
                      model=leader["model"], rating=leader["rating"], low=leader["low"], high=leader["high"]))
models = [r["model"] for r in board]
by_chrf = ratings.chrf_ranking(CHECKPOINTS_DIR, models)
tau = ratings.kendall_tau(models, by_chrf)
left, right = st.columns([3, 2])
with left:
    table([{"model": r["model"], "rating": r["rating"], "95 % interval": f"{r['low']}–{r['high']}",
            "votes": r["votes"], "wins": r["wins"], "ties": r["ties"], "losses": r["losses"]} for r in board])
with right:
    table([{"rank by test chrF": i + 1, "model": m} for i, m in enumerate(by_chrf)])
if tau is not None:
    st.caption(t("Agreement between the two rankings (Kendall's tau, 1 = same order, −1 = reversed): {tau:.2f}.",
                 tau=tau))
matrix = ratings.win_rates([v for v in votes if v["model_a"] in models and v["model_b"] in models], models)
chart(figures.win_rate_heatmap(matrix, models),
      [{"model": a, "against": b, "won": v} for a, row in zip(models, matrix) for b, v in zip(models, row)],
      "arena-win-rates.csv", "arena-wins", t("Each cell: how often the row's model won against the column's."))
source_note(t("Bradley–Terry ratings fitted to every vote at once (1000 = average; 400 points = 10 : 1 odds), 95 % "
              "intervals from 200 bootstrap resamples; `python -m engine arena report` prints the same table. Test "
              "chrF from each checkpoint's eval.json."))
