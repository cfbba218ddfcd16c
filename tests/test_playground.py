"""The Playground: toy tasks (engine/experiments/toy.py), its presets' claims, the background races and the page."""
import random
import time

import pytest
import torch

from dashboard import playground as pg
from engine.experiments.toy import PRESETS, TASKS, ToyModel, ToyRace, ToyTask, evaluate, held_out_pairs
from engine.models import build_model
from tests.helpers import open_page, plotly_titles


@pytest.mark.parametrize("name", list(TASKS))
def test_tasks_make_the_pairs_they_promise_the_same_for_a_seed(name):
    task = ToyTask(name, 12, 6)
    first = [task.example(random.Random(3)) for _ in range(50)]
    assert first == [task.example(random.Random(3)) for _ in range(50)]
    for source, target in first:
        letters, wanted = task.render(source).split(), task.render(target).split()
        if name == "copy":
            assert wanted == letters
        elif name == "reverse":
            assert wanted == letters[::-1]
        elif name == "sort":
            assert wanted == sorted(letters)
        elif name == "remember":
            assert wanted == letters[:2] and 6 <= len(letters) <= 12
        assert source[-1] == target[-1] == 2  # both end in EOS


def test_dates_read_like_dates():
    task = ToyTask("dates")
    source, target = task.example(random.Random(0))
    text, iso = task.render(source), task.render(target)
    month, day, year = text.replace(",", "").split()
    assert iso == f"{year}-{task.symbols.index(month) + 1:02d}-{int(day[:-2]):02d}"
    assert task.render(task.ids(list("2021-03-03"))) == "2021-03-03"


def test_held_out_examples_never_reach_training():
    race = ToyRace(ToyTask("copy", 10, 2), [ToyModel("gru")], seed=0)  # 2,046 inputs, 200 held out
    held_out = {tuple(s) for s, _ in race.test}
    assert len(held_out) == 200
    drawn = [tuple(t for t in row if t) for _ in range(20) for row in race.batch(random.Random(1))[0].tolist()]
    assert not held_out & set(drawn)
    rng = random.Random(1)
    assert held_out & {tuple(race.task.example(rng)[0]) for _ in range(20 * 64)}  # they would have been drawn


def test_a_task_too_small_to_hold_examples_out_is_refused():
    with pytest.raises(ValueError, match="only 14 different inputs"):
        ToyTask("copy", 3, 2)


@pytest.mark.parametrize("bad, message", [
    (dict(family="cnn"), "family"), (dict(width=7), "width"), (dict(layers=9), "layers"), (dict(lr=5.0), "learning"),
    (dict(optimizer="lion"), "optimizer"), (dict(positional="rope"), "positional"), (dict(init_scale=9), "scale")])
def test_bad_contestants_are_refused_with_a_message(bad, message):
    with pytest.raises(ValueError, match=message):
        ToyModel(**bad)


def test_table_rows_become_contestants_or_a_message_naming_the_row():
    rows = pg.contestant_rows(PRESETS["exploding"].models)
    assert pg.contestants_from_rows(rows) == list(PRESETS["exploding"].models)
    with pytest.raises(pg.PlaygroundError, match="Model 2: pick a family"):
        pg.contestants_from_rows([rows[0], {**rows[1], "family": None}])
    with pytest.raises(pg.PlaygroundError, match="Model 1: .*width"):
        pg.contestants_from_rows([{**rows[0], "width": 3}])
    with pytest.raises(pg.PlaygroundError, match="one to four"):
        pg.contestants_from_rows(rows * 3)
    with pytest.raises(pg.PlaygroundError, match="one to four"):
        pg.contestants_from_rows([])


def test_every_family_learns_through_the_same_engine_models():
    task = ToyTask("copy", 5, 4)
    for setup in (ToyModel("rnn-tanh"), ToyModel("rnn-relu", attention=False), ToyModel("lstm"),
                  ToyModel("gru", layers=2), ToyModel("transformer", positional="learned")):
        torch.manual_seed(0)
        model = build_model(setup.spec(task.vocab_size))
        result = evaluate(model, task, held_out_pairs(task, 0))
        assert 0 <= result["accuracy"] <= 1 and len(result["outputs"]) == len(held_out_pairs(task, 0))
    race = ToyRace(task, [ToyModel("gru"), ToyModel("transformer")], seed=0)
    race.run(seconds=60, max_steps=5)
    assert [c.steps for c in race.contestants] == [5, 5] and race.finished
    assert {r["model"] for r in race.snapshot()} == {"gru + attention", "transformer"}


def test_a_rerun_with_the_same_seed_draws_the_same_curve():
    def curve():
        race = ToyRace(ToyTask("reverse", 5, 5), [ToyModel("gru")], seed=4)
        race.run(seconds=60, max_steps=20)
        return [(r["step"], r["test_loss"]) for r in race.snapshot()]
    assert curve() == curve()


def final(race: ToyRace, index: int) -> dict:
    return race.contestants[index].history[-1]


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p.expect])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_preset_shows_its_claim(name, seed):
    preset = PRESETS[name]
    race = ToyRace(preset.task, list(preset.models), seed=seed, eval_every_seconds=1e9)
    race.run(seconds=1e9, max_steps=preset.steps)
    shown, numbers = preset.outcome([c.history[-1] for c in race.contestants])
    assert shown, numbers


def test_an_outcome_says_when_a_run_did_not_show_the_claim():
    preset = PRESETS["word-order"]
    assert preset.outcome([{"accuracy": 0.95}, {"accuracy": 0.15}]) == (
        True, "transformer: 95% of sequences entirely right, transformer (no positions): 15%")
    assert preset.outcome([{"accuracy": 0.5}, {"accuracy": 0.4}])[0] is False
    assert preset.outcome([{"accuracy": 0.5}]) is None  # the visitor removed a model
    assert PRESETS["exploding"].outcome([{"test_loss": 1.39}, {"test_loss": 0.9}]) == (
        True, "held-out loss (lower is better) 0.90 for rnn-relu, SGD, 1.39 for rnn-relu, no clipping, SGD")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sorting_needs_no_positions(seed):
    preset = PRESETS["order-free"]
    race = ToyRace(preset.task, list(preset.models), seed=seed, eval_every_seconds=1e9)
    race.run(seconds=1e9, max_steps=preset.steps)
    assert final(race, 1)["accuracy"] >= 0.6 and final(race, 0)["accuracy"] >= 0.6


def test_the_server_runs_a_bounded_number_of_races(monkeypatch):
    monkeypatch.setattr(pg, "_slots", __import__("threading").BoundedSemaphore(1))
    first = pg.start(ToyTask("copy", 5, 4), [ToyModel("gru")], seconds=30, seed=0)
    try:
        with pytest.raises(pg.PlaygroundError, match="other visitors"):
            pg.start(ToyTask("copy", 5, 4), [ToyModel("gru")], seconds=30, seed=0)
    finally:
        first.race.stop.set()
        assert first.done.wait(30)
    second = pg.start(ToyTask("copy", 5, 4), [ToyModel("gru")], seconds=1, seed=0)  # the slot came back
    assert second.done.wait(60) and not second.error
    with pytest.raises(pg.PlaygroundError, match="1 to 60 seconds"):
        pg.start(ToyTask("copy", 5, 4), [ToyModel("gru")], seconds=600, seed=0)


def test_the_page_opens_the_preset_in_the_link_and_warns_about_a_bad_one():
    at = open_page("views/playground.py")
    assert at.query_params["preset"] == "word-order"
    assert any("cannot tell word order" in m.value for m in at.markdown)
    at.query_params["preset"] = "bottleneck"
    at.run()
    assert any("squeezes the whole input" in m.value for m in at.markdown)
    assert at.slider(key="length-bottleneck").value == 30
    at.query_params["preset"] = "<script>"
    at.run()
    assert not at.exception and any("preset is not one of the experiments" in w.value for w in at.warning)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_opens_with_its_claim_task_and_models(name):
    at = open_page("views/playground.py")
    at.query_params["preset"] = name
    at.run()
    preset = PRESETS[name]
    assert not at.exception and any(preset.claim in m.value for m in at.markdown)
    assert at.selectbox(key=f"task-{name}").value == preset.task.name
    assert at.slider(key=f"seconds-{name}").value == preset.seconds
    table = at.dataframe[0].value  # the editable table of contestants
    assert pg.contestants_from_rows(table.to_dict("records")) == list(preset.models)


def test_training_on_the_page_draws_live_curves_and_examples_and_can_stop():
    at = open_page("views/playground.py")
    at.slider(key="seconds-word-order").set_value(5)
    next(b for b in at.button if b.label == "Train").click()
    at.run()
    assert not at.exception and not at.warning
    deadline = time.time() + 120
    while time.time() < deadline and not any("finished" in m.value for m in at.markdown):
        time.sleep(2)
        at.run()
    assert any("**Race finished**" in m.value for m in at.markdown), [m.value for m in at.markdown]
    assert plotly_titles(at) == ["Sequences entirely right (held-out examples)",
                                 "Largest gradient norm (before clipping)", "Held-out loss (lower is better)",
                                 "Accuracy by sequence length (latest evaluation)"]
    assert any("This run shows it" in s.value for s in at.success) or any("did not show" in w.value for w in at.warning)
    examples = at.dataframe[-1].value
    assert list(examples.columns[:2]) == ["input", "expected"] and len(examples) == 6
    assert examples["transformer"].str.match("^[✓✗] ").all()
    next(b for b in at.button if b.label == "Reset").click()
    at.run()
    assert any("Press **Train**" in i.value for i in at.info)


@pytest.mark.slow
def test_after_training_the_gru_keeps_a_path_to_the_first_letter_and_the_plain_rnn_does_not():
    from engine.experiments import lab
    from engine.experiments.toy import ToyModel as M

    trained = lab.gradient_after_training(steps=600, setups=(M("rnn-tanh", attention=False), M("gru", attention=False)))
    reach = {label: r["gradient"][0] / r["gradient"][-1] for label, r in trained.items()}
    assert trained["gru"]["accuracy"] > 0.8 > 0.1 > trained["rnn-tanh"]["accuracy"]
    assert reach["gru"] > 100 * reach["rnn-tanh"], reach


def test_the_presets_command_times_when_each_claim_shows(tmp_path, monkeypatch):
    import dataclasses
    import json

    from engine.cli import main
    from engine.experiments import toy

    monkeypatch.setitem(toy.PRESETS, "word-order", dataclasses.replace(PRESETS["word-order"], seconds=3))
    main(["presets", "word-order", "--seeds", "4", "--out", str(tmp_path / "presets.json")])
    report = json.loads((tmp_path / "presets.json").read_text())
    (run,) = report["runs"]
    assert run["preset"] == "word-order" and run["seed"] == 4 and run["seconds_per_model"] == 3
    assert run["shown_at_end"] in (True, False) and "of sequences entirely right" in run["figures"]
    assert run["first_shown_after_s"] is None or run["first_shown_after_s"] <= run["wall_seconds"]
    assert report["machine"]["cpu"] and report["command"].startswith("python -m engine")


def test_the_page_says_what_the_presets_command_found_on_its_machine():
    checks = {"command": "python -m engine presets", "machine": {"cpu": "Test CPU", "threads": 2},
              "runs": [{"preset": "bottleneck", "shown_at_end": True, "first_shown_after_s": 6.5},
                       {"preset": "bottleneck", "shown_at_end": False, "first_shown_after_s": None},
                       {"preset": "bottleneck", "shown_at_end": True, "first_shown_after_s": 9.0}]}
    assert pg.preset_check_sentence(checks, "bottleneck") == (
        "Checked on Test CPU (2 threads): the effect showed in 2 of 3 runs with different seeds, first visible after "
        "6.5 to 9 s (`results/playground-presets.json`, made by `python -m engine presets`).")
    assert pg.preset_check_sentence(checks, "vanishing") is None and pg.preset_check_sentence(None, "x") is None
