"""The Quality page's data shaping (dashboard/quality.py), without Streamlit."""
from dashboard import quality


def ev(chrf, long=None):
    long_scores = {"long_sentences": {"min_words": 30, "chrf": long}} if long else {}
    return {"chrf": chrf, "bleu": chrf / 3, "ter": 90.0, "perplexity": 50.0, "parameters": 4e6, "train_minutes": 9.0,
            "decoding": {"beam": 5}, "sentences": 1000, **long_scores}


def test_rows_are_ranked_and_the_verdict_names_the_best_and_the_transformer():
    rows = quality.score_rows({"gru": ev(30.0, 20.0), "transformer": ev(25.5, 22.0), "lstm": ev(28.0, 19.0)})
    assert [r["model"] for r in rows] == ["gru", "lstm", "transformer"]
    assert rows[0]["chrF, ≥ 30 words"] == 20.0
    assert quality.verdict(rows) == ("**gru** translates best here (chrF 30.0). The transformer comes 3rd of 3, "
                                     "4.5 chrF behind.")
    alone = quality.score_rows({"transformer": ev(40.0)})
    assert quality.verdict(alone) == "**transformer** translates best here (chrF 40.0)."
    assert [quality.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]


def test_race_story_reads_the_lead_changes():
    assert quality.race_story([(100, "gru")], "tokens") == "**gru** leads from start to finish."
    assert quality.race_story([(100, "gru"), (2_500_000, "transformer")], "tokens") == \
        "**gru** leads first, **transformer** takes the lead at 2,500,000 tokens."


def test_gallery_picks_best_worst_and_a_stable_random_sample_within_the_length_range():
    pairs = [("a b", "x"), ("a b c d", "y"), ("a", "z"), ("a b c", "w")]
    outputs = {"m": ["1", "2", "3", "4"]}
    scores = [10.0, 40.0, 30.0, 20.0]
    best = quality.gallery_rows(pairs, outputs, scores, "best", (2, 4), 2)
    assert [r["source"] for r in best] == ["a b c d", "a b c"] and best[0]["m"] == "2"
    assert [r["source"] for r in quality.gallery_rows(pairs, outputs, scores, "worst", (1, 4), 1)] == ["a b"]
    assert quality.gallery_rows(pairs, outputs, scores, "random", (1, 4), 3) == \
        quality.gallery_rows(pairs, outputs, scores, "random", (1, 4), 3)
    assert quality.sentence_chrf([["x"], ["y"]], ["x"]) == [50.0]
