"""The Arena page's server side: one shared vote database, battles between two shipped models, the leaderboard."""
from __future__ import annotations

import random

import streamlit as st
from sacrebleu.metrics import CHRF
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.i18n import N_
from dashboard.translations import BATCHER
from engine.arena import ratings
from engine.arena.store import Arena, database_url, session_hash
from engine.data import corpora
from engine.inference.decoding import SERVING_LENGTH_PENALTY

SHORT_WORDS = 10  # the leaderboard's split: sentences of at most this many words, and longer ones


@st.cache_resource(show_spinner=False)
def arena(url: str) -> Arena:
    """The vote database, shared by every session of this server (it serialises its own writes)."""
    return Arena(url)


def open_arena() -> Arena:
    return arena(database_url())


def visitor() -> str:
    """This browser session, as a salted hash (the server's own session id: a visitor cannot choose it)."""
    ctx = get_script_run_ctx()
    return session_hash(ctx.session_id if ctx else "no-session")


def test_sentence(rng: random.Random) -> dict:
    """A sentence from a test split, with its reference and where it came from."""
    corpus = rng.choice(["ding-en-de", "bible-en-de"])
    pairs = corpora.load_split(corpus, "test", "en-de")
    line = rng.randrange(len(pairs))
    where = f"{corpus} test line {line + 1}"  # data: the battle's record of its sentence (also in the database)
    return {"sentence": pairs[line][0], "reference": pairs[line][1], "source": where}


def start_battle(store: Arena, translators: dict, sentence: str, source: str, reference: str | None) -> dict:
    """Two models from the least-voted pair, both translating `sentence` greedily (the Translate page's default);
    the battle is recorded as issued to this session. Returns what the page keeps: the names stay server-side."""
    a, b = ratings.next_pair(sorted(translators), store.pair_counts(), random.Random())
    outputs = tuple(BATCHER.translate(translators[m], sentence, beam=1, length_penalty=SERVING_LENGTH_PENALTY).text
                    for m in (a, b))
    decoding = {"beam": 1, "length_penalty": SERVING_LENGTH_PENALTY}
    battle_id = store.issue_battle(visitor(), sentence, source, (a, b), outputs, decoding)
    return {"id": battle_id, "sentence": sentence, "source": source, "reference": reference, "models": (a, b),
            "outputs": outputs, "verdict": None}


def sentence_chrf(hypothesis: str, reference: str) -> float:
    return round(CHRF().sentence_score(hypothesis, [reference]).score, 1)


VERDICT_WORDS = {"A is better": N_("A is better"), "B is better": N_("B is better"), "Tie": N_("Tie"),
                 "Both bad": N_("Both bad")}  # engine.arena.store.VERDICTS, shown through t()
SPLITS = {"all": lambda words: True,  # the leaderboard's choices: which votes it is fitted on
          "short": lambda words: words <= SHORT_WORDS,
          "long": lambda words: words > SHORT_WORDS}
COLUMNS = [N_("rating"), N_("95 % interval"), N_("votes"), N_("wins"), N_("ties"), N_("losses"),
           N_("rank by test chrF")]  # the leaderboard's column names, shown through widgets.table
SPLIT_WORDS = {"all": N_("all sentences"), "short": N_("≤ {words} words"), "long": N_("more than {words} words")}


@st.cache_data(show_spinner=False, max_entries=16)
def _leaderboard(games: tuple[tuple[str, str, str], ...]) -> list[dict]:
    return ratings.leaderboard([{"model_a": a, "model_b": b, "verdict": v} for a, b, v in games])


def leaderboard(votes: list[dict], split: str) -> list[dict]:
    """The leaderboard over the votes of one split: fitted (with its bootstrap) once per set of votes, not on every
    rerun of the page."""
    keep = SPLITS[split]
    return _leaderboard(tuple((v["model_a"], v["model_b"], v["verdict"]) for v in votes if keep(v["words"])))
