from engine.experiments.bench import decode_row, fastest_rows


def test_each_decoder_keeps_its_fastest_round_in_first_seen_order():
    rounds = [[decode_row("engine", "transformer", "greedy", 1, 24, 0.030),
               decode_row("ctranslate2 fp32", "hf-marian", "greedy", 1, 24, 0.012)],
              [decode_row("engine", "transformer", "greedy", 1, 24, 0.020),  # a quiet round for ours
               decode_row("ctranslate2 fp32", "hf-marian", "greedy", 1, 24, 0.025)],  # a noisy one for theirs
              [decode_row("engine", "transformer", "beam5", 1, 24, 0.050)]]
    rows = fastest_rows([row for round_ in rounds for row in round_])
    assert [(r["engine"], r["search"], round(r["ms"], 1)) for r in rows] == [
        ("engine", "greedy", 20.0), ("ctranslate2 fp32", "greedy", 12.0), ("engine", "beam5", 50.0)]
