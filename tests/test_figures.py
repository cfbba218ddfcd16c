"""Figure builders and the data shaping behind them: pure functions, tested on small synthetic logs."""
from dashboard import figures


def log(points):
    """A metrics.jsonl of evaluations: (tokens_seen, train_seconds, valid_chrf) triples, plus noise records."""
    return [{"kind": "step", "step": 1, "tokens_seen": 5, "loss": 9.0}] + [
        {"kind": "eval", "tokens_seen": t, "train_seconds": s, "valid_chrf": c} for t, s, c in points]


RUNS = {"gru": log([(100, 60, 10.0), (200, 120, 14.0), (300, 180, 15.0)]),
        "transformer": log([(100, 120, 6.0), (200, 240, 15.0), (300, 360, 20.0)])}


def test_metric_series_reads_evaluations_and_converts_minutes():
    assert figures.metric_series(RUNS["gru"], "valid_chrf", "tokens_seen") == ([100, 200, 300], [10.0, 14.0, 15.0])
    assert figures.metric_series(RUNS["gru"], "valid_chrf", "train_minutes")[0] == [1.0, 2.0, 3.0]


def test_race_leaders_names_the_crossover():
    assert figures.race_leaders(RUNS, "valid_chrf", "tokens_seen") == [(100, "gru"), (200, "transformer")]
    # against time the transformer is slower per token: at 4 minutes it only ties the GRU (a tie keeps the leader)
    assert figures.race_leaders(RUNS, "valid_chrf", "train_minutes") == [(1.0, "gru"), (6.0, "transformer")]
    assert figures.race_leaders({"gru": RUNS["gru"]}, "valid_chrf", "tokens_seen") == [(100, "gru")]


def test_learning_curves_have_one_line_per_model_with_titled_axes():
    fig = figures.training_curves(RUNS, "valid_chrf", "tokens_seen", kind="eval")
    assert [t.name for t in fig.data] == ["gru", "transformer"]
    assert list(fig.data[1].y) == [6.0, 15.0, 20.0]
    assert fig.layout.xaxis.title.text == "training tokens seen (source + target)"
    assert fig.layout.yaxis.title.text == "validation chrF (0-100)"
    assert figures.label("valid_chrf_bible-en-de") == "validation chrF (0-100), bible-en-de"


def test_scores_by_length_figure_plots_each_bucket():
    rows = {"gru": [{"bucket": "1-5", "bleu": 9.0, "chrf": 30.0}, {"bucket": "81+", "bleu": 1.0, "chrf": 20.0}]}
    fig = figures.by_length(rows, "chrf", "bible-en-de")
    assert list(fig.data[0].x) == ["1-5", "81+"] and list(fig.data[0].y) == [30.0, 20.0]
    assert "chrF" in fig.layout.title.text and "bible-en-de" in fig.layout.title.text


def test_attention_rows_number_the_source_tokens():
    rows = figures.attention_rows([[0.25, 0.75], [1.0, 0.0]], ["▁Hi", "▁Hi"], ["▁Hallo", "</s>"])
    assert rows == [{"output": "▁Hallo", "0:▁Hi": 0.25, "1:▁Hi": 0.75}, {"output": "</s>", "0:▁Hi": 1.0, "1:▁Hi": 0.0}]


def test_smoothed_training_curves_do_not_dip_at_their_ends():
    records = [{"kind": "step", "step": i, "loss": 4.0} for i in range(1, 50)]
    fig = figures.training_curves({"run": records}, "loss", "step", smooth=10)
    assert fig.data[0].y == tuple([4.0] * 49)
    assert figures.trailing_mean([1, 2, 3, 4], 2) == [1.0, 1.5, 2.5, 3.5]


def test_a_model_has_one_colour_on_every_chart_and_two_series_of_one_model_stay_apart():
    from dashboard import palette

    curve = figures.lines({"gru-attn": ([1], [1]), "gru-attn (next set, incomplete)": ([1], [2]), "my-run": ([1], [3])},
                          "t", "x", "y")
    styles = [(t.line.color, t.line.dash) for t in curve.data]
    assert styles[0] == (palette.GREEN, "solid") and styles[1][0] == palette.GREEN and styles[1] != styles[0]
    assert styles[2] == (None, None)  # not a model: the palette's colours in turn
    bars = figures.bars(["GRU + attention", "transformer"], [1, 2], "t", "y")
    assert list(bars.data[0].marker.color) == [palette.GREEN, palette.VERMILLION]  # the same model, the same colour
    assert palette.style("gru") == (palette.GREEN, "dash")  # no attention: dashed
    recurrent = {palette.style(p)[0] for p in ("rnn-tanh-attn", "lstm-attn", "gru-attn")}
    transformers = {palette.style(p)[0] for p in ("transformer", "transformer-nopos", "hf-marian")}
    assert recurrent <= {palette.SKY_BLUE, palette.BLUE, palette.GREEN} and not recurrent & transformers
