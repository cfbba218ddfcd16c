"""Streamlit AppTest for every page, run in-process against the shipped checkpoints."""
import json
import shutil
import uuid

import pytest

from dashboard import figures
from dashboard.models import RUNS_DIR, bench_files, list_models
from engine.evaluation import int8_check
from engine.paths import CHECKPOINTS_DIR
from tests.helpers import answered_models, card_titles, open_page, plotly_titles, texts, translate

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not list_models(), reason="needs the shipped checkpoints")]


def test_translate_page_shows_every_models_translation():
    at = open_page("views/translate.py")
    assert at.title[0].value == "Translate"
    models = at.multiselect[0].value
    assert len(models) >= 7
    translate(at, "The weather is nice today.")
    assert len(at.text) >= len(models)
    assert all(isinstance(t, str) for t in texts(at))
    assert sorted(answered_models(at)) == sorted(models)
    # the cards: recurrent models first, then Transformers, each under its plain name
    assert [m.value for m in at.markdown if m.value.startswith("######")] == [
        "###### Recurrent: they read one word after another", "###### Transformers: they read all words at once"]
    assert card_titles(at)[:2] == ["Plain RNN + attention", "LSTM + attention"]
    assert "Transformer without word positions" in card_titles(at)
    assert any("the baseline" in c.value for c in at.caption)
    assert any(c.value.startswith("What to expect: these are small models") for c in at.caption)
    # a recurrent model with attention beside a Transformer, in whole words; layer/head pickers keep the translations
    assert plotly_titles(at) == ["GRU + attention: cross-attention (its only attention)",
                                 "Transformer: cross-attention (average of all layers and heads)"]
    heatmap = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]
    assert "0:The" in heatmap["x"] and not any("\u2581" in x for x in heatmap["x"])
    assert any(c.value.startswith("No heatmap for GRU: without attention") for c in at.caption)
    at.selectbox(key="layer-transformer").select(2)
    at.toggle(key="attention-pieces").set_value(True)
    at.run()
    assert plotly_titles(at)[1] == "Transformer: cross-attention (layer 2, head average)"
    assert any("\u2581" in x for x in json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]["x"])
    assert not at.exception and sorted(answered_models(at)) == sorted(models)


def test_the_decode_race_replays_a_recurrent_model_against_the_transformer_on_one_clock():
    at = translate(open_page("views/translate.py"), "We are going to the station.")
    assert (at.selectbox(key="race-first").value, at.selectbox(key="race-second").value) == ("gru-attn", "transformer")
    at.button(key="race").click()
    at.run()
    assert not at.exception, at.exception
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    ticks = [int(frame["name"]) for frame in spec["frames"]]  # the step clock first: one frame per step here
    assert ticks == list(range(len(ticks))) and len(ticks) > 10 and spec["layout"]["sliders"]
    last = spec["frames"][-1]["layout"]["title"]["text"]
    assert last.startswith("step ") and "GRU + attention read" in last and "Transformer read" in last
    early = spec["frames"][3]["data"]  # step 3: the GRU is still reading word by word, two steps a word
    assert early[0]["marker"]["color"].count("#e5e5e5") == len(early[0]["marker"]["color"]) - 1
    assert early[2]["marker"]["color"].count("#e5e5e5") == 0  # the Transformer has read every word in 3 steps
    assert any("tokens × 2 recurrent layers" in c.value for c in at.caption)
    at.segmented_control(key="race-clock").set_value("ms")
    at.run()
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    last = spec["frames"][-1]["layout"]["title"]["text"]
    assert len(spec["frames"]) == 41 and last.endswith("steps one after another")
    translate(at, "Good morning.")
    assert not any("recurrent layers" in c.value for c in at.caption)  # the old race is gone


def test_translate_page_refuses_empty_input_politely():
    at = open_page("views/translate.py")
    translate(at, "   \u200b ")
    assert any("Type a sentence" in i.value for i in at.info)


def test_translate_page_shuffle_toggle_adds_shuffled_rows():
    at = open_page("views/translate.py")
    at.multiselect[0].set_value(["transformer", "transformer-nopos"])
    at.toggle[0].set_value(True)
    translate(at, "The dog bites the man.")
    assert answered_models(at) == ["transformer", "transformer-nopos"] * 2  # the original, then the shuffled words
    assert any(m.value == "**Shuffled input:**" for m in at.markdown)


def test_translate_page_offers_int8_only_for_models_whose_weights_passed_the_check(tmp_path, monkeypatch):
    at = open_page("views/translate.py")
    assert at.toggle(key="int8").disabled or int8_check.CHECK_FILE.is_file()  # nothing to offer without a check
    check = tmp_path / "int8-check.json"
    passed = {"chrf": 0.1, "bleu": 0.0, "passed": True}
    check.write_text(json.dumps({"models": {
        "gru-attn": {"weights_sha256": int8_check.weights_digest(CHECKPOINTS_DIR / "gru-attn"),
                     "corpora": {"ding-en-de": passed}},
        "transformer": {"weights_sha256": "from other weights", "corpora": {"ding-en-de": passed}}}}))
    monkeypatch.setattr(int8_check, "CHECK_FILE", check)
    at.multiselect[0].set_value(["gru-attn", "transformer"])
    at.run()
    assert not at.toggle(key="int8").disabled
    at.toggle(key="int8").set_value(True)
    translate(at, "The dog bites the man.")
    marked = [c.value for c in at.caption if "int8 output layer" in c.value]
    # int8 for gru-attn only: the transformer's weights changed since the check
    assert len(marked) == 1 and answered_models(at) == ["gru-attn", "transformer"]


def test_quality_page_lists_every_shipped_model():
    at = open_page("views/quality.py")
    table = at.dataframe[0].value
    assert {"gru-attn", "transformer", "hf-marian"} <= set(table["model"])
    assert (table["BLEU"] >= 0).all()
    at.segmented_control(key="gallery-order").set_value("worst")
    at.run()
    assert not at.exception


def test_quality_page_races_the_learning_curves_and_scores_long_sentences():
    at = open_page("views/quality.py")
    titles = plotly_titles(at)
    assert "validation chrF (0-100)" in titles and "chrF by source length — ding-en-de test" in titles
    race = json.loads(at.get("plotly_chart")[titles.index("validation chrF (0-100)")].proto.spec)
    shipped = {e.name for e in list_models() if e.shipped}
    assert {trace["name"] for trace in race["data"] if "next set" not in trace["name"]} == shipped
    assert any("leads" in m.value for m in at.markdown)  # the race's one-line story
    assert any("translates best here" in m.value for m in at.markdown)  # plain language before the metrics
    at.segmented_control(key="test-set").set_value("bible-en-de")
    at.segmented_control(key="race-x").set_value("train_minutes")
    at.segmented_control(key="length-metric").set_value("bleu")
    at.run()
    assert not at.exception and "BLEU by source length — bible-en-de test" in plotly_titles(at)
    assert set(at.dataframe[0].value["model"]) == shipped  # every shipped model scored on the long verses


def test_quality_page_names_the_sets_budget_and_machine_and_races_a_staged_model_as_such():
    budgets = {json.loads((e.path / "config.json").read_text())["meta"]["train_config"]["max_train_tokens"]
               for e in list_models() if e.shipped}
    staged = CHECKPOINTS_DIR / f"test-next-{uuid.uuid4().hex[:8]}"  # a set being staged, one model done
    try:
        (staged / "transformer").mkdir(parents=True)
        for name in ("config.json", "metrics.jsonl"):
            shutil.copy(CHECKPOINTS_DIR / "transformer" / name, staged / "transformer" / name)
        (staged / "SET.json").write_text(json.dumps({"presets": ["transformer", "gru"], "models": {"transformer": {}}}))
        at = open_page("views/quality.py")
    finally:
        shutil.rmtree(staged)
    story = next(c.value for c in at.caption if "training tokens" in c.value)
    assert f"{budgets.pop() / 1e6:g} million training tokens" in story and "2 threads, torch" in story
    race = json.loads(at.get("plotly_chart")[plotly_titles(at).index("validation chrF (0-100)")].proto.spec)
    assert "transformer (next set, incomplete)" in {trace["name"] for trace in race["data"]}
    assert "transformer (next set, incomplete)" not in set(at.dataframe[0].value["model"])  # only in the race


def test_arena_page_hides_the_names_until_the_vote_counts_it_once_and_ranks_the_models(tmp_path, monkeypatch):
    from engine.arena.store import Arena, database_url

    monkeypatch.setenv("SEQ2SEQ_ARENA_DB", str(tmp_path / "arena.db"))
    at = open_page("views/arena.py")
    assert any("No votes yet" in i.value for i in at.info)
    for verdict in ("A is better", "Tie", "Both bad"):
        at.button(key="draw").click()
        at.run()
        sentence = at.text_area(key="sentence").value
        assert sentence
        at.button(key="start").click()
        at.run()
        assert not at.exception, at.exception
        shipped = {e.name for e in list_models() if e.shipped}
        assert [m.value for m in at.markdown if m.value.startswith("**A**")] == ["**A**"]  # no name before the vote
        at.button(key=f"vote-{verdict}").click()
        at.run()
        revealed = next(m.value for m in at.markdown if m.value.startswith("**A** — "))
        assert revealed.removeprefix("**A** — ") in shipped
        assert all(at.button(key=f"vote-{v}").disabled for v in ("A is better", "B is better", "Tie", "Both bad"))
        assert any("chrF against the reference" in c.value for c in at.caption)  # a test sentence: scored
        at.button(key="next").click()
        at.run()
    assert any("After 3 votes" in m.value for m in at.markdown)
    assert "Share of battles won, row model against column model" in plotly_titles(at)
    votes = Arena(database_url(str(tmp_path / "arena.db"))).votes()
    assert [v["verdict"] for v in votes] == ["A is better", "Tie", "Both bad"]
    assert all(v["source"].startswith(("ding-en-de test line", "bible-en-de test line")) for v in votes)


def test_speed_page_measures_live():
    at = open_page("views/speed.py")
    at.button[0].click()
    at.run()
    assert not at.exception
    assert any("Measured on" in m.value for m in at.markdown)


def test_lab_opens_on_the_trained_gradients_where_the_plain_rnn_falls_below_the_gru():
    at = open_page("views/lab.py")
    first = json.loads(at.get("plotly_chart")[0].proto.spec)  # shown before any click, from the shipped file
    assert first["layout"]["title"]["text"] == (
        "Gradient reaching each input position, after training on the memory task")
    at_position_0 = {trace["name"]: trace["y"][0] for trace in first["data"]}
    assert at_position_0["Plain RNN"] < at_position_0["GRU"]
    assert any(c.value.startswith(":material/description: results/gradients-after-training.json, made by `python -m "
                                  "engine gradients`") for c in at.caption)
    assert at.segmented_control(key="grad-init").value == "default"  # the same initialisation as the Story's


def test_lab_page_runs_its_experiments():
    at = open_page("views/lab.py")
    for key in ("run-grad", "run-clip", "run-pe"):
        at.button(key=key).click()
        at.run()
        assert not at.exception, at.exception
    init_chart = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                      if "at initialisation" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    assert {"Plain RNN, default init", "Plain RNN, orthogonal init", "GRU", "Transformer"} <= {
        t["name"] for t in init_chart["data"]}  # the plain RNN both ways
    table = at.dataframe[0].value  # "The dog bites the man." against "The man bites the dog."
    seen = dict(zip(table["model"], table["the encoder sees"]))
    assert seen == {"Transformer": "two different sentences", "Transformer without word positions":
                    "the same bag of words"}
    assert dict(zip(table["model"], table["the two translations"]))["Transformer without word positions"] == "identical"
    at.select_slider(key="grad-trained-steps").set_value(200)
    at.button(key="run-grad-trained").click()
    at.run()
    assert not at.exception, at.exception
    assert "Gradient reaching each input position, after training on the memory task" in plotly_titles(at)
    assert any("**LSTM, forget bias 1**:" in m.value and "held-out answers right" in m.value for m in at.markdown)
    assert any(c.value == "Trained just now on this server." for c in at.caption)


def test_lab_measures_which_source_words_sway_a_clicked_output_word_and_influence_by_distance():
    at = open_page("views/lab.py")
    at.text_input(key="influence-sentence").input("<b>We</b> are going to the station.")
    at.button(key="run-influence").click()
    at.run()
    assert not at.exception, at.exception
    written = {n: r["output_tokens"] for n, r in at.session_state["influence"].items()}
    assert list(written) == ["gru", "gru-attn", "transformer"]
    assert [t for t in plotly_titles(at) if "what swayed" in t] == [
        f"{n}: what swayed “{figures.as_text(w[0])}”" for n, w in written.items()]
    next(b for b in at.get("button_group") if b.key == "influence-word-gru-attn").set_value(2)  # click a word
    at.run()
    assert not at.exception
    assert f"gru-attn: what swayed “{figures.as_text(written['gru-attn'][2])}”" in plotly_titles(at)
    at.select_slider(key="influence-count").set_value(10)
    at.button(key="run-distance").click()
    at.run()
    assert not at.exception, at.exception
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert spec["layout"]["title"]["text"] == "Influence against distance (10 ding-en-de test sentences)"
    assert [trace["name"] for trace in spec["data"]] == ["gru", "gru-attn", "transformer"]
    assert all(len(trace["y"]) == 31 for trace in spec["data"])


def test_training_page_opens_on_the_shipped_models_curves_and_describes_each_architecture():
    at = open_page("views/training.py")
    assert plotly_titles(at) == ["training loss (nats/token)", "validation chrF (0-100)",
                                 "gradient norm before clipping"]  # before any training
    names = {t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert {"GRU + attention", "Transformer", "Transformer without word positions"} <= names
    assert any(c.value.startswith("**GRU + attention: a gated recurrent cell") for c in at.caption)
    at.selectbox[0].select("rnn-relu-attn")
    at.run()
    assert any(c.value.startswith("**ReLU RNN + attention: ") for c in at.caption)


def test_training_page_trains_in_the_background_and_refuses_bad_names():
    name = f"test-{uuid.uuid4().hex[:8]}"
    at = open_page("views/training.py")
    at.text_input[0].input("../escape")
    at.button[0].click()
    at.run()
    assert not at.exception and any("lower-case" in w.value for w in at.warning)
    try:
        at.text_input[0].input(name)
        at.slider[0].set_value(0.5)
        at.button[0].click()
        at.run()
        assert not at.exception and any("started" in s.value for s in at.success)
        from dashboard.jobs import manager

        job = manager.jobs[name]
        job.thread.join(timeout=300)
        assert job.status == "finished", job.message
        at.run()
        assert not at.exception
        assert (RUNS_DIR / name / "best" / "eval.json").exists()
        assert name in [e.name for e in list_models([name])]
        assert at.session_state["my_runs"] == [name]  # this visitor's own
        at.switch_page("views/translate.py")
        at.run()
        assert name in at.multiselect[0].options and name not in at.multiselect[0].value  # offered, not chosen
    finally:
        shutil.rmtree(RUNS_DIR / name, ignore_errors=True)


def test_speed_page_shows_the_shipped_benchmark_against_generate_and_ctranslate2():
    at = open_page("views/speed.py")
    tables = [d.value for d in at.dataframe]
    ratios = next(t for t in tables if "ratio" in t.columns)
    assert "decode_greedy_b1_24_transformer_over_generate" in set(ratios["ratio"])
    charts = {json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec)["data"]
              for c in at.get("plotly_chart")}
    first = at.get("plotly_chart")[0].proto  # every chart: a PNG named after its data, and text for screen readers
    assert json.loads(first.config)["toImageButtonOptions"] == {"format": "png", "filename": "sequential-steps",
                                                                "scale": 2}
    assert first.alt.startswith("Steps that must wait for the previous one")
    steps = {t["name"]: t["y"] for t in charts["Steps that must run one after another (training, teacher forcing)"]}
    assert steps == {"Plain RNN + attention, LSTM + attention, GRU, GRU + attention": [32, 64, 128, 256, 512, 1024],
                     "Transformer, Marian-style Transformer": [6] * 6}  # no line hides another
    decoders = charts["Writing 24 tokens (greedy, one sentence): three decoders, one model size"][0]["x"]
    assert {"ours", "transformers generate", "ctranslate2 fp32", "ctranslate2 int8"} <= set(decoders)
    machines = next(t for t in tables if "machine" in t.columns)  # every shipped bench file, side by side
    assert list(machines["file"]) == [p.name for p in bench_files()] and len(machines) >= 2
    assert any(m.value.startswith("**Matmul ceiling") for m in at.markdown)
    curve = charts["Slowest visitors' wait (95th percentile) against visitors at once"]
    assert {t["name"] for t in curve} == {"batched across visitors", "one visitor after another"}
    at.segmented_control(key="bench-search").set_value("beam5").run()
    assert "Writing 24 tokens (beam5, one sentence): three decoders, one model size" in plotly_titles(at)


def test_story_page_tells_each_chapter_with_evidence():
    at = open_page("views/story.py")
    chapters = [h.value for h in at.subheader]
    assert len(chapters) == 6 and chapters[0] == "1. One word at a time"
    assert "Before training: gradient reaching each source word" in plotly_titles(at)
    assert "chrF by source length — bible-en-de test" in plotly_titles(at)
    assert any("30 words or more" in m.value for m in at.markdown)  # the long-sentence verdict, read from eval files
    assert sum(m.value.startswith(":material/menu_book: **What research found.**") for m in at.markdown) == 4
    assert "After training: gradient reaching each input position" in plotly_titles(at)
    at.slider(key="story-length").set_value(100)
    at.segmented_control(key="story-how").set_value("shuffle")
    at.button(key="run-story").click()
    at.run()
    assert not at.exception
    table = at.dataframe[0].value  # the Lab's table, in words
    assert dict(zip(table["model"], table["the encoder sees"]))["Transformer without word positions"] == (
        "the same bag of words")
    steps = {m.label: m.value for m in at.metric}
    assert steps["GRU: steps one after another"] == "400" and steps["Transformer: steps one after another"] == "6"
