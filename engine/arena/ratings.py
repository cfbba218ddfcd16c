"""The leaderboard from votes: Bradley–Terry strengths with bootstrap intervals, win rates, agreement with chrF, and
which pair to show next.

Bradley–Terry: P(i beats j) = p_i / (p_i + p_j). Fitted by maximum likelihood with Hunter's (2004) MM updates;
a tie counts half a win each way ("Both bad" is a tie). Shown on the Elo-like scale 1000 + 400 log10(p / mean p).
Fitted on all votes at once, so unlike online Elo the order of the votes does not matter (Chiang et al. 2024).
"""
from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

import numpy as np

SCALE, BASE = 400 / math.log(10), 1000.0
PRIOR = 0.1  # a tenth of a tie against every other model: keeps unbeaten or winless models finite


def outcomes(votes: Iterable[dict]) -> list[tuple[str, str, float]]:
    """(model A, model B, A's score: 1 win, 0.5 tie, 0 loss) per vote."""
    score = {"A is better": 1.0, "B is better": 0.0, "Tie": 0.5, "Both bad": 0.5}
    return [(v["model_a"], v["model_b"], score[v["verdict"]]) for v in votes]


def bradley_terry(games: list[tuple[str, str, float]], models: list[str], iterations: int = 500) -> dict[str, float]:
    """Ratings (Elo-like scale) maximising the Bradley–Terry likelihood of `games`."""
    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    wins = np.full((n, n), PRIOR / 2)  # wins[i, j]: i's score against j, with the prior's half-ties
    np.fill_diagonal(wins, 0.0)
    for a, b, s in games:
        wins[index[a], index[b]] += s
        wins[index[b], index[a]] += 1 - s
    played = wins + wins.T  # [n, n] games between i and j
    p = np.ones(n)
    for _ in range(iterations):
        new = wins.sum(1) / (played / (p[:, None] + p[None, :])).sum(1)
        new /= np.exp(np.log(new).mean())
        if np.abs(new - p).max() < 1e-10:
            p = new
            break
        p = new
    return {m: BASE + SCALE * math.log(p[index[m]]) for m in models}


def leaderboard(votes: list[dict], models: list[str] | None = None, rounds: int = 200,
                seed: int = 0) -> list[dict]:
    """One row per model, best first: rating, 95 % bootstrap interval, votes, wins, ties, losses."""
    games = outcomes(votes)
    models = models or sorted({m for a, b, _ in games for m in (a, b)})
    if not games:
        return []
    ratings = bradley_terry(games, models)
    rng = random.Random(seed)
    samples = [bradley_terry([rng.choice(games) for _ in games], models) for _ in range(rounds)]
    rows = []
    for m in models:
        spread = sorted(s[m] for s in samples)
        mine = [(s if a == m else 1 - s) for a, b, s in games if m in (a, b)]
        rows.append({"model": m, "rating": round(ratings[m]), "low": round(spread[int(0.025 * (rounds - 1))]),
                     "high": round(spread[int(math.ceil(0.975 * (rounds - 1)))]), "votes": len(mine),
                     "wins": sum(x == 1 for x in mine), "ties": sum(x == 0.5 for x in mine),
                     "losses": sum(x == 0 for x in mine)})
    return sorted(rows, key=lambda r: -r["rating"])


def win_rates(votes: list[dict], models: list[str]) -> list[list[float | None]]:
    """matrix[i][j]: the share of i's battles against j that i won (ties half); None where they never met."""
    score = {(a, b): [0.0, 0] for a in models for b in models}
    for a, b, s in outcomes(votes):
        for x, y, v in ((a, b, s), (b, a, 1 - s)):
            score[x, y][0] += v
            score[x, y][1] += 1
    return [[(score[a, b][0] / score[a, b][1]) if score[a, b][1] else None for b in models] for a in models]


def kendall_tau(first: list[str], second: list[str]) -> float | None:
    """Kendall's tau between two rankings of the same models (1: same order, -1: reversed)."""
    common = [m for m in first if m in second]
    if len(common) < 2:
        return None
    where = {m: second.index(m) for m in common}
    pairs = list(combinations(common, 2))  # in `first`'s order
    concordant = sum(where[a] < where[b] for a, b in pairs)
    return (2 * concordant - len(pairs)) / len(pairs)


def next_pair(models: list[str], counts: dict[tuple[str, str], int], rng: random.Random) -> tuple[str, str]:
    """Two models in random A/B order, from the pairs with the fewest votes so far (each pair fills alike)."""
    pairs = [tuple(sorted(p)) for p in combinations(models, 2)]
    fewest = min(counts.get(p, 0) for p in pairs)
    pair = list(rng.choice([p for p in pairs if counts.get(p, 0) == fewest]))
    rng.shuffle(pair)
    return pair[0], pair[1]


def chrf_ranking(checkpoints: Path, models: list[str], corpus_file: str = "eval.json") -> list[str]:
    """`models` that have a test score, best ding-en-de test chrF first (from each checkpoint's eval.json)."""
    scores = {}
    for m in models:
        try:
            scores[m] = json.loads((Path(checkpoints) / m / corpus_file).read_text())["chrf"]
        except (OSError, ValueError, KeyError):
            continue
    return sorted(scores, key=lambda m: -scores[m])
