"""Data shaping for the Quality page: score tables, the race's story, the gallery (pure functions, in the page's
language)."""
from __future__ import annotations

import random

from sacrebleu.metrics import CHRF

from dashboard.i18n import N_, language, millions, t

TEST_SETS = {"ding-en-de": N_("everyday sentences (ding-en-de, about 8 words)"),
             "bible-en-de": N_("long Bible verses (bible-en-de, about 25 words)")}

# the tables' column names, which widgets.table shows translated (the CSV keeps these English keys)
COLUMNS = [N_("model"), N_("test perplexity"), N_("parameters (M)"), N_("training minutes"), N_("beam"),
           N_("sentences"), N_("source"), N_("reference"), N_("mean chrF")]


def score_rows(evals: dict[str, dict]) -> list[dict]:
    """One table row per model, best chrF first."""
    rows = [{"model": name, "chrF": ev["chrf"], "BLEU": ev["bleu"], "TER": ev["ter"],
             "test perplexity": ev["perplexity"],
             **({f"chrF, ≥ {ev['long_sentences']['min_words']} words": ev["long_sentences"]["chrf"]}
                if ev.get("long_sentences") else {}),
             "parameters (M)": round(ev["parameters"] / 1e6, 2), "training minutes": ev.get("train_minutes"),
             "beam": ev["decoding"]["beam"], "sentences": ev["sentences"]}
            for name, ev in evals.items()]
    return sorted(rows, key=lambda r: -r["chrF"])


def verdict(rows: list[dict], focus: str = "transformer") -> str:
    """One plain sentence: who translates best, and where the focus model stands."""
    best = rows[0]
    text = t("**{model}** translates best here (chrF {score:.1f}).", model=best["model"], score=best["chrF"])
    ranks = {r["model"]: i for i, r in enumerate(rows)}
    if focus in ranks and focus != best["model"]:
        gap = best["chrF"] - rows[ranks[focus]]["chrF"]
        text += t(" The {model} comes {place} of {count}, {gap:.1f} chrF behind.", model=focus,
                  place=ordinal(ranks[focus] + 1), count=len(rows), gap=gap)
    return text


def set_story(summary: dict | None) -> str:
    """What every shipped model was given: its training budget and the machine it trained on."""
    if not summary:
        return ""
    if summary["budget_tokens"]:
        budget = t("Every model here learned from the same amount of text: **{tokens} training tokens** (word "
                   "pieces) each", tokens=millions(summary["budget_tokens"], None))
    else:
        budget = t("The models here were trained on different budgets")
    source = f"`{summary['source']}`" if summary["source"] else t("each model's config.json")
    return t("{budget}, on {machines} ({minutes:g} training minutes for all {count}). From {source}.", budget=budget,
             machines=t(" and ").join(t(m) for m in summary["machines"]), minutes=summary["train_minutes"],
             count=summary["models"], source=source)


def ordinal(n: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th' (in Chinese 第 2)."""
    if language() == "zh":
        return f"第 {n} "
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def race_story(leaders: list[tuple[float, str]], unit: str) -> str:
    """The learning-curve race in one sentence, from `figures.race_leaders`."""
    if len(leaders) == 1:
        return t("**{model}** leads from start to finish.", model=leaders[0][1])
    return t("**{model}** leads first", model=leaders[0][1]) + "".join(
        t(", **{model}** takes the lead at {point:,.0f} {unit}", model=name, point=point, unit=t(unit))
        for point, name in leaders[1:]) + t(".")


def sentence_chrf(hypotheses: list[list[str]], references: list[str]) -> list[float]:
    """Mean sentence chrF over the models (one hypothesis list each), per reference sentence."""
    chrf = CHRF()
    return [sum(chrf.sentence_score(h[i], [references[i]]).score for h in hypotheses) / len(hypotheses)
            for i in range(len(references))]


def gallery_rows(pairs: list[tuple[str, str]], outputs: dict[str, list[str]], scores: list[float], order: str,
                 words: tuple[int, int], count: int) -> list[dict]:
    """`count` test sentences within a source-length range: the best, worst or a fixed random pick by mean chrF."""
    low, high = words
    indices = [i for i, (s, _) in enumerate(pairs) if low <= len(s.split()) <= high]
    if order == "random":
        indices = random.Random(0).sample(indices, min(count, len(indices)))
    else:
        indices = sorted(indices, key=lambda i: scores[i], reverse=order == "best")[:count]
    return [{"source": pairs[i][0], "reference": pairs[i][1], "mean chrF": round(scores[i], 1),
             **{name: hyps[i] for name, hyps in outputs.items()}} for i in indices]
