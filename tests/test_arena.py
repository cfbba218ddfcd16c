"""The arena: Bradley–Terry, balanced pairs, the battle rules, concurrent voters (SQLite and a real PostgreSQL server)
and the schema migration."""
import json
import math
import multiprocessing
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from engine.arena import ratings
from engine.arena.store import BATTLE_LIFETIME_S, Arena, VoteRefused, database_url, session_hash
from engine.paths import ROOT

TRUE = {"transformer": 1200, "hf-marian": 1100, "gru-attn": 1000, "lstm-attn": 900, "gru": 800}


def simulated_votes(count: int, seed: int = 0) -> list[dict]:
    """Votes drawn from Bradley–Terry with the TRUE ratings (no ties: the model has none)."""
    rng, models, counts, votes = random.Random(seed), list(TRUE), {}, []
    for _ in range(count):
        a, b = ratings.next_pair(models, counts, rng)
        counts[tuple(sorted((a, b)))] = counts.get(tuple(sorted((a, b))), 0) + 1
        p_a = 1 / (1 + 10 ** ((TRUE[b] - TRUE[a]) / 400))
        verdict = "A is better" if rng.random() < p_a else "B is better"
        votes.append({"model_a": a, "model_b": b, "verdict": verdict})
    return votes


def test_bradley_terry_recovers_the_true_order_and_its_intervals_cover_the_true_strengths():
    board = ratings.leaderboard(simulated_votes(3000), rounds=50)
    assert [r["model"] for r in board] == list(TRUE)
    assert sum(r["votes"] for r in board) == 2 * 3000
    # 95 % intervals: over six independent samples of 1,000 votes, about 95 % of the 30 intervals hold the truth
    rows = [r for seed in range(1, 7) for r in ratings.leaderboard(simulated_votes(1000, seed), rounds=100)]
    covered = sum(r["low"] <= TRUE[r["model"]] <= r["high"] for r in rows)
    assert covered >= 26, covered
    assert all(r["high"] - r["low"] < 200 for r in rows)


def test_the_fit_ignores_the_order_of_the_votes():
    votes = simulated_votes(500)
    games = ratings.outcomes(votes)
    assert ratings.bradley_terry(games, list(TRUE)) == pytest.approx(ratings.bradley_terry(games[::-1], list(TRUE)))


def test_pairs_fill_alike():
    models = [f"m{i}" for i in range(7)]
    rng, counts = random.Random(1), {}
    for _ in range(21 * 20):
        pair = tuple(sorted(ratings.next_pair(models, counts, rng)))
        counts[pair] = counts.get(pair, 0) + 1
    assert len(counts) == 21 and set(counts.values()) == {20}


def test_win_rates_and_kendall_tau():
    votes = [{"model_a": "x", "model_b": "y", "verdict": v} for v in ("A is better", "A is better", "Tie")]
    assert ratings.win_rates(votes, ["x", "y", "z"]) == [[None, 2.5 / 3, None], [0.5 / 3, None, None],
                                                          [None, None, None]]
    assert ratings.kendall_tau(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert ratings.kendall_tau(["a", "b", "c"], ["c", "b", "a"]) == -1.0
    assert ratings.kendall_tau(["a", "b", "c", "d"], ["b", "a", "c", "d"]) == pytest.approx(2 / 3)


def battle(arena: Arena, session: str, models=("gru", "transformer")) -> str:
    return arena.issue_battle(session, "The house is small.", "typed", models, ("Das Haus.", "Das Haus ist klein."),
                              {"beam": 1})


def test_only_an_issued_battle_of_ones_own_session_counts_once(tmp_path, monkeypatch):
    arena = Arena(database_url(str(tmp_path / "arena.db")), votes_per_minute=3)
    me, other = session_hash("me"), session_hash("other")
    first = battle(arena, me)
    assert arena.record_vote(first, me, "B is better")["model_b"] == "transformer"  # names revealed after the vote
    with pytest.raises(VoteRefused, match="already voted"):
        arena.record_vote(first, me, "A is better")  # twice (a double click, a replay)
    with pytest.raises(VoteRefused, match="not issued"):
        arena.record_vote("f" * 32, me, "A is better")  # forged: the server never issued it
    with pytest.raises(VoteRefused, match="another visitor"):
        arena.record_vote(battle(arena, other), me, "A is better")
    with pytest.raises(VoteRefused, match="unknown verdict"):
        arena.record_vote(battle(arena, me), me, "gru is better")
    old = battle(arena, me)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + BATTLE_LIFETIME_S + 1)
    with pytest.raises(VoteRefused, match="expired"):
        arena.record_vote(old, me, "Tie")
    monkeypatch.undo()
    for _ in range(2):
        arena.record_vote(battle(arena, me), me, "Tie")
    with pytest.raises(VoteRefused, match="at most 3 votes a minute"):
        arena.record_vote(battle(arena, me), me, "Tie")
    assert [v["verdict"] for v in arena.votes()] == ["B is better", "Tie", "Tie"]  # the votes store the models
    assert {v["model_a"] for v in arena.votes()} == {"gru"}


def vote_many(url: str, session: str, count: int) -> None:
    arena = Arena(url, votes_per_minute=10_000)
    for i in range(count):
        arena.record_vote(battle(arena, session), session, ("A is better", "B is better", "Tie", "Both bad")[i % 4])
    arena.close()


def concurrent_voters(url: str) -> int:
    """20 sessions in threads and 4 in processes, voting at once; returns the votes stored."""
    Arena(url).close()  # the schema first
    threads = [threading.Thread(target=vote_many, args=(url, session_hash(f"t{i}"), 5)) for i in range(20)]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=vote_many, args=(url, session_hash(f"p{i}"), 10)) for i in range(4)]
    for worker in threads + processes:
        worker.start()
    for worker in threads + processes:
        worker.join(timeout=300)
    assert all(p.exitcode == 0 for p in processes)
    return len(Arena(url).votes())


def test_concurrent_voters_lose_nothing_on_sqlite(tmp_path):
    assert concurrent_voters(database_url(str(tmp_path / "arena.db"))) == 20 * 5 + 4 * 10


def test_a_version_1_database_migrates(tmp_path):
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:  # the first schema: votes only, no version table, no `words`
        db.execute("CREATE TABLE votes (battle_id VARCHAR(32) PRIMARY KEY, voted_at FLOAT NOT NULL, session "
                   "VARCHAR(64) NOT NULL, sentence TEXT NOT NULL, source VARCHAR(80) NOT NULL, model_a VARCHAR(120) "
                   "NOT NULL, model_b VARCHAR(120) NOT NULL, output_a TEXT NOT NULL, output_b TEXT NOT NULL, "
                   "decoding VARCHAR(200) NOT NULL, verdict VARCHAR(20) NOT NULL)")
        db.execute("INSERT INTO votes VALUES ('b1', 1.0, 's', 'We are going to the station .', 'typed', 'gru', "
                   "'transformer', 'x', 'y', '{}', 'Tie')")
    arena = Arena(database_url(str(path)))
    assert [(v["battle_id"], v["words"]) for v in arena.votes()] == [("b1", 7)]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    session = session_hash("me")
    arena.record_vote(battle(arena, session), session, "A is better")  # and the new schema works
    assert len(arena.votes()) == 2


@pytest.mark.slow
def test_the_cli_reports_the_leaderboard_and_exports_every_vote(tmp_path):
    url = database_url(str(tmp_path / "arena.db"))
    env = {**os.environ, "SEQ2SEQ_ARENA_DB": str(tmp_path / "arena.db")}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "engine", "arena", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, check=True).stdout

    assert "no votes yet" in cli("report")
    vote_many(url, session_hash("me"), 8)
    report = cli("report")
    assert "8 votes in sqlite" in report and "| gru |" in report and "| transformer |" in report
    assert "Kendall's tau" in report  # beside the ranking by test chrF
    assert "wrote 8 votes" in cli("export", str(tmp_path / "votes.jsonl"))
    lines = (tmp_path / "votes.jsonl").read_text().splitlines()
    assert len(lines) == 8 and json.loads(lines[0])["verdict"] == "A is better"


# ---------------------------------------------------------------- a real PostgreSQL server
def postgres_binaries() -> Path | None:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists():
            return folder
    return Path(shutil.which("initdb")).parent if shutil.which("initdb") else None


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server on a free port, run by an unprivileged user (initdb refuses root)."""
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (Debian: apt-get install postgresql; .ci/run installs it)")
    folder = Path(tempfile.mkdtemp(prefix="arena-postgres-"))  # not under pytest's root-only folders
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data, log = folder / "data", folder / "log"
    subprocess.run(as_user + [str(binaries / "initdb"), "-D", str(data), "-U", "arena", "--auth=trust"], check=True,
                   capture_output=True)
    started = subprocess.run(as_user + [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
                                        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"],
                             capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"PostgreSQL did not start: {started.stderr or log.read_text()}")
    yield f"postgresql://arena@127.0.0.1:{port}/postgres"
    subprocess.run(as_user + [str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_concurrent_voters_lose_nothing_on_postgresql(postgres):
    url = database_url(postgres)
    assert url.startswith("postgresql+psycopg://")
    assert concurrent_voters(url) == 20 * 5 + 4 * 10
    session = session_hash("me")
    arena = Arena(url)
    first = battle(arena, session)
    arena.record_vote(first, session, "Tie")
    with pytest.raises(VoteRefused, match="already voted"):
        arena.record_vote(first, session, "Tie")
    assert not math.isnan(ratings.leaderboard(arena.votes(), rounds=20)[0]["rating"])
