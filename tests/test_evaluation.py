import sacrebleu

from engine.evaluation.metrics import corpus_scores, evaluate, scores_by_length
from engine.inference.translate import Translator
from tests.conftest import tiny_model


def test_scores_match_sacrebleu_with_signatures():
    hyps = ["the cat sat on the mat", "a dog barks loudly"]
    refs = ["the cat sat on a mat", "the dog barks"]
    scores = corpus_scores(hyps, refs)
    assert scores["bleu"] == round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2)
    assert scores["chrf"] == round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2)
    assert scores["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert "chrF" in scores["chrf_signature"] or "nc:6" in scores["chrf_signature"]


def test_scores_by_length_buckets_cover_every_sentence():
    sources = ["one two three", "one two three four five six seven", "x " * 40, "y " * 85]
    rows = scores_by_length(sources, ["a b c d e"] * 4, ["a b c d e"] * 4)
    assert sum(r["sentences"] for r in rows) == 4
    assert [r["bucket"] for r in rows] == ["1-5", "6-10", "31-40", "81+"]
    assert all(r["bleu"] == 100.0 and r["chrf"] == 100.0 for r in rows)


def test_evaluate_writes_everything_eval_json_needs(tiny_tokenizer, tiny_pairs):
    model = tiny_model("gru-attn", len(tiny_tokenizer))
    translator = Translator(model, tiny_tokenizer)
    result = evaluate(translator, tiny_pairs[:30], beam=2, samples=5)
    assert {"bleu", "chrf", "ter", "bleu_signature", "perplexity", "by_length", "samples", "hypotheses"} <= set(result)
    assert len(result["samples"]) == 5 and len(result["hypotheses"]) == 30 and result["perplexity"] > 1
