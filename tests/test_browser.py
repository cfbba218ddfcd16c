"""Real-browser end-to-end tests: `streamlit run` on a free localhost port, driven by Debian's headless chromium."""
import time

import pytest

from dashboard.models import list_models
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, require_browser, streamlit_server

require_browser()
from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow

expect.set_options(timeout=120_000)  # the first page load also loads every model


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as (url, _):
        yield url


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(120_000)
        yield page
        browser.close()


def no_exception(page):
    assert page.locator('[data-testid="stException"]').count() == 0


def test_translate_in_the_browser(server, page):
    start = time.perf_counter()
    page.goto(server)
    expect(page.get_by_role("heading", name="Translate").first).to_be_visible()
    models = len(list_models())  # all are selected by default
    assert models >= 7
    page.get_by_label("Sentence", exact=True).fill("The weather is nice today.")
    page.locator('[data-testid="stBaseButton-primary"]').click()
    outputs = page.locator('[data-testid="stText"]')
    expect(outputs).to_have_count(models)
    seconds = time.perf_counter() - start
    expect(page.get_by_text("Where did each model look?")).to_be_visible()
    page.wait_for_timeout(1500)  # let the heatmaps draw
    no_exception(page)
    assert all(text.strip() for text in outputs.all_inner_texts())
    page.screenshot(path=str(ARTIFACTS / "translate.png"), full_page=True)
    (ARTIFACTS / "translate-seconds.txt").write_text(f"{seconds:.2f}\n")


@pytest.mark.parametrize("path,heading,wait_for", [
    ("story", "Why Transformers replaced RNNs", "Glossary"),
    ("quality", "Quality", "Gallery of test sentences"),
    ("speed", "Speed & scaling", "Measure now on this machine"),
    ("training", "Training", "Start training"),
    ("lab", "Lab", "Vanishing gradients"),
])
def test_every_page_renders_in_the_browser(server, page, path, heading, wait_for):
    page.goto(f"{server}/{path}")
    expect(page.get_by_role("heading", name=heading).first).to_be_visible()
    expect(page.get_by_text(wait_for).first).to_be_visible()
    page.wait_for_timeout(1500)
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / f"{path}.png"), full_page=True)


def test_quality_page_draws_the_learning_curve_race_and_the_long_sentence_chart(server, page):
    page.goto(f"{server}/quality")
    expect(page.get_by_text("The learning-curve race")).to_be_visible()
    charts = page.locator(".js-plotly-plot")
    expect(charts).to_have_count(3)  # scores, the race, scores by sentence length
    expect(charts.nth(1).get_by_text("validation chrF (0-100)").first).to_be_attached()
    expect(charts.nth(2).get_by_text("chrF by source length — ding-en-de test").first).to_be_attached()
    page.get_by_text("long Bible verses", exact=False).first.click()
    length_chart = page.locator(".js-plotly-plot").nth(2)
    expect(length_chart.get_by_text("chrF by source length — bible-en-de test").first).to_be_attached()
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "quality-long.png"), full_page=True)


def test_a_deep_link_to_a_fresh_server_gets_the_real_navigation(page):
    """A shared link or a bookmark is often a class's first request to a (re)started server."""
    with streamlit_server() as (url, _):
        page.goto(f"{url}/lab")
        expect(page.get_by_role("heading", name="Lab").first).to_be_visible()
        nav = page.locator('[data-testid="stSidebarNav"]')
        expect(nav.get_by_text("Speed & scaling")).to_be_visible()  # page titles, not file names
        expect(nav.get_by_text("streamlit app")).to_have_count(0)
        no_exception(page)


def test_the_story_reads_top_to_bottom(server, page):
    page.goto(f"{server}/story")
    expect(page.get_by_role("heading", name="Why Transformers replaced RNNs").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "story-top.png"))
    for chapter in ("1. One word at a time", "2. Gradients that fade", "3. A fixed-size bottleneck", "4. Word order",
                    "5. Long sentences", "6. Parallel hardware", "Glossary"):
        heading = page.get_by_text(chapter, exact=True).first
        heading.scroll_into_view_if_needed()
        expect(heading).to_be_visible()
    page.get_by_text("Glossary", exact=True).first.click()
    expect(page.get_by_text("vanishing gradient").first).to_be_visible()
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "story-bottom.png"))
    page.get_by_text("Teach two Transformers to reverse letters").first.click()  # a chapter's link to its preset
    expect(page.get_by_text("cannot tell word order").first).to_be_visible()


@pytest.mark.alone  # the preset trains for its 20 seconds: with another test beside it, too few steps to decide
def test_a_playground_link_opens_its_preset_and_trains_it_to_a_verdict(server, page):
    page.goto(f"{server}/playground?preset=bottleneck")
    expect(page.get_by_text("squeezes the whole input into one vector").first).to_be_visible()
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("Race training").first).to_be_visible()
    expect(page.get_by_text("Sequences entirely right (held-out examples)").first).to_be_visible()
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text("Race stopped").first).to_be_visible()
    page.get_by_text("No positions: a bag of words", exact=True).click()  # a preset end to end
    expect(page.get_by_text("cannot tell word order").first).to_be_visible()
    start = time.perf_counter()
    page.get_by_role("button", name="Train").click()
    expect(page.get_by_text("This run shows it").first).to_be_visible(timeout=180_000)
    (ARTIFACTS / "playground-seconds-to-verdict.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)


def test_arena_votes_survive_a_server_restart(page, tmp_path):
    env = {"SEQ2SEQ_ARENA_DB": str(tmp_path / "arena.db")}
    with streamlit_server(env) as (url, _):
        page.goto(f"{url}/arena")
        expect(page.get_by_role("heading", name="Arena").first).to_be_visible()
        for verdict in ("A is better", "B is better", "Tie"):  # from the keyboard: type, then Enter on each button
            page.get_by_label("Sentence", exact=True).focus()
            page.keyboard.press("Control+A")
            page.keyboard.type("The house is small.")
            page.keyboard.press("Control+Enter")
            press(page, page.get_by_role("button", name="Start battle"))
            press(page, page.get_by_role("button", name=verdict, exact=True))
            expect(page.get_by_text("Your vote:")).to_be_visible()
            press(page, page.get_by_role("button", name="Next battle"))
            expect(page.get_by_text("Your vote:")).to_have_count(0)
        expect(page.get_by_text("After 3 votes")).to_be_visible()
        no_exception(page)
    with streamlit_server(env) as (url, _):  # a new server process on the same database
        page.goto(f"{url}/arena")
        expect(page.get_by_text("After 3 votes")).to_be_visible()
        expect(page.locator(".js-plotly-plot")).to_have_count(1)  # the win-rate matrix
        page.wait_for_timeout(1500)
        no_exception(page)
        page.screenshot(path=str(ARTIFACTS / "arena.png"), full_page=True)


def press(page, control) -> None:
    """Reach a control from the keyboard and press Enter on it (no mouse)."""
    control.focus()
    expect(control).to_be_focused()
    page.keyboard.press("Enter")


def test_translate_and_the_decode_race_work_from_the_keyboard(server, page):
    page.goto(server)
    page.get_by_label("Sentence", exact=True).focus()
    page.keyboard.type("We are going to the station.")
    page.keyboard.press("Control+Enter")
    press(page, page.locator('[data-testid="stBaseButton-primary"]'))  # Translate
    expect(page.locator('[data-testid="stText"]')).to_have_count(len(list_models()))
    press(page, page.get_by_role("button", name="Replay the race"))
    clock = page.locator('.st-key-race-moment input[type="range"]')
    expect(clock).to_be_attached()
    expect(page.locator(".js-plotly-plot")).to_have_count(3)  # two heatmaps, then the race
    page.wait_for_timeout(1000)
    assert plotly_title(page, -1).startswith("step 0:")
    clock.focus()
    for _ in range(20):  # halfway through the race with the arrow keys
        page.keyboard.press("ArrowRight")
    expect(page.locator('.st-key-race-moment [data-testid="stSliderThumbValue"]')).to_have_text("20")
    page.wait_for_timeout(1500)
    assert not plotly_title(page, -1).startswith("step 0:")  # the chart moved with the clock
    no_exception(page)


def plotly_data(page, index: int) -> list[dict]:
    """The traces of the page's `index`-th plotly chart, as the browser drew them."""
    return page.evaluate(f"[...document.querySelectorAll('.js-plotly-plot')][{index}].data.map("
                         "t => ({name: t.name, x: t.x, y: t.y}))")


def plotly_title(page, index: int) -> str:
    """The chart's title without the bold tags streamlit's theme wraps it in."""
    title = page.evaluate(f"[...document.querySelectorAll('.js-plotly-plot')].at({index}).layout.title.text")
    return title.replace("<b>", "").replace("</b>", "")


def first_view(page, name: str) -> None:
    """What a class sees before scrolling: no exception, and a screenshot for the walk (test-artifacts/)."""
    page.wait_for_timeout(1000)
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / f"first-view-{name}.png"))


def test_translate_first_view_groups_the_cards_under_plain_names_and_opens_heatmaps_with_attention(server, page):
    page.goto(server)
    page.get_by_label("Sentence", exact=True).fill("The weather is nice today.")
    page.locator('[data-testid="stBaseButton-primary"]').click()
    recurrent = page.get_by_text("Recurrent: they read one word after another")
    expect(recurrent).to_be_visible()
    expect(page.get_by_text("Transformers: they read all words at once")).to_be_visible()
    expect(page.get_by_text("GRU + attention", exact=True).first).to_be_visible()
    expect(page.get_by_text("Transformer without word positions", exact=True).first).to_be_visible()
    recurrent.scroll_into_view_if_needed()
    first_view(page, "translate-cards")
    heading = page.get_by_text("Where did each model look?")
    heading.scroll_into_view_if_needed()
    charts = page.locator(".js-plotly-plot")
    expect(charts).to_have_count(2)  # a recurrent model with attention beside a Transformer
    assert plotly_title(page, 0).startswith("GRU + attention: cross-attention")
    assert plotly_title(page, 1).startswith("Transformer: cross-attention")
    words = plotly_data(page, 0)[0]["x"]
    assert "0:The" in words and not any("\u2581" in w for w in words)  # whole words, not subword pieces
    first_view(page, "translate-heatmaps")


def test_lab_first_view_shows_the_plain_rnn_losing_the_gradient_the_gru_keeps(server, page):
    page.goto(f"{server}/lab")
    expect(page.get_by_text("who keeps a path back to the first word?").first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(1)  # before any click
    assert plotly_title(page, 0) == "Gradient reaching each input position, after training on the memory task"
    at_position_0 = {trace["name"]: trace["y"][0] for trace in plotly_data(page, 0)}
    assert at_position_0["Plain RNN"] < at_position_0["GRU"]
    first_view(page, "lab")


def test_training_first_view_shows_the_shipped_models_curves(server, page):
    page.goto(f"{server}/training")
    expect(page.get_by_text("You have not trained a model here yet").first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(3)  # loss, validation chrF, gradient norm
    assert "GRU + attention" in {trace["name"] for trace in plotly_data(page, 0)}
    expect(page.get_by_text("GRU + attention: a gated recurrent cell").first).to_be_visible()
    first_view(page, "training")


def test_story_and_speed_first_views_state_the_research_before_this_servers_numbers(server, page):
    page.goto(f"{server}/story")
    found = page.get_by_text("What research found.").first
    expect(found).to_be_visible()
    expect(page.get_by_text("Why a small CPU can disagree.").first).to_be_visible()
    found.scroll_into_view_if_needed()
    first_view(page, "story")
    page.goto(f"{server}/speed")
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    lines = {trace["name"] for trace in plotly_data(page, 0)}
    assert lines == {"Plain RNN + attention, LSTM + attention, GRU, GRU + attention",
                     "Transformer, Marian-style Transformer"}  # one line per layer structure: none hidden
    first_view(page, "speed")


def copied_link(page) -> str:
    """Open the page's "Copy link" popover and read the link it offers."""
    page.get_by_role("button", name="Copy link").click()
    code = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"] code').first
    expect(code).to_be_visible()
    link = code.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def test_a_copied_translate_link_reproduces_the_view_in_a_fresh_browser(server, page):
    page.goto(server)
    page.get_by_label("Sentence", exact=True).fill("We are going to the station.")
    page.get_by_text("beam search", exact=True).click()
    page.locator('[data-testid="stBaseButton-primary"]').click()
    outputs = page.locator('[data-testid="stText"]')
    expect(outputs.first).to_be_visible()
    expect(page.get_by_text("Where did each model look?")).to_be_visible()
    before = outputs.all_inner_texts()
    link = copied_link(page)
    assert "text=We+are+going+to+the+station." in link and "decoding=beam+search" in link
    fresh = page.context.browser.new_context()  # nothing shared with the first visitor
    try:
        other = fresh.new_page()
        other.goto(link.replace(server + "/", server + "/translate"))  # /translate works as well as /
        expect(other.get_by_role("heading", name="Translate").first).to_be_visible()
        expect(other.get_by_text("Where did each model look?")).to_be_visible()  # translated without a click
        assert other.locator('[data-testid="stText"]').all_inner_texts() == before
        assert other.get_by_label("Sentence", exact=True).input_value() == "We are going to the station."
        assert other.get_by_text("Page not found").count() == 0
        no_exception(other)
    finally:
        fresh.close()


@pytest.mark.parametrize("path,choose,check", [
    ("quality", lambda p: p.get_by_text("BLEU", exact=True).first.click(),
     lambda p: expect(p.get_by_text("BLEU on the ding-en-de test split").first).to_be_attached()),
    ("speed", lambda p: p.get_by_text("beam search (5)", exact=True).first.click(),
     lambda p: expect(p.get_by_text("beam5 decoding latency at batch 1").first).to_be_attached()),
    ("lab", lambda p: p.get_by_text("orthogonal", exact=True).first.click(),
     lambda p: expect(p.locator(".st-key-grad-init [aria-checked='true'], .st-key-grad-init [kind*='Active']")
                      .get_by_text("orthogonal")).to_have_count(1)),
    ("arena", lambda p: (p.get_by_label("Sentence", exact=True).fill("Where is the station?"),
                         p.get_by_label("Sentence", exact=True).press("Control+Enter")),
     lambda p: expect(p.get_by_label("Sentence", exact=True)).to_have_value("Where is the station?")),
])
def test_a_copied_link_reproduces_each_pages_settings_in_a_fresh_browser(server, page, path, choose, check):
    page.goto(f"{server}/{path}")
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    page.wait_for_timeout(1500)
    choose(page)
    page.wait_for_timeout(2500)  # the rerun, and the address bar following the widget
    check(page)
    link = copied_link(page)
    assert link != f"{server}/{path}", "the link holds the setting"
    fresh = page.context.browser.new_context()
    try:
        other = fresh.new_page()
        other.goto(link)
        expect(other.get_by_role("button", name="Copy link")).to_be_visible()
        check(other)
        no_exception(other)
    finally:
        fresh.close()


def test_teacher_mode_hides_the_controls_a_link_names_and_keeps_their_values(server, page):
    page.goto(f"{server}/lab?grad-init=orthogonal&hide=grad-init,grad-length,no-such-control")
    expect(page.get_by_role("heading", name="Lab").first).to_be_visible()
    expect(page.locator(".st-key-grad-trained-steps")).to_be_visible()  # not named: shown
    expect(page.locator(".st-key-grad-length")).to_be_hidden()
    expect(page.locator(".st-key-grad-init")).to_be_hidden()
    page.get_by_role("button", name="Run gradient-flow experiment").click()
    expect(page.get_by_text("at initialisation (orthogonal init)").first).to_be_attached()  # the hidden value applies
    no_exception(page)


def test_the_first_visit_to_a_fresh_server_shows_its_title_while_the_libraries_load(page):
    """Measured, not asserted against a clock (speed targets live in benchmarks): the seconds to the title and to
    the first translation, written to test-artifacts/first-visit-seconds.json for the README."""
    with streamlit_server() as (url, _):
        start = time.perf_counter()
        page.goto(url)
        expect(page.get_by_role("heading", name="Translate").first).to_be_visible()
        to_title = time.perf_counter() - start
        page.get_by_label("Sentence", exact=True).fill("The weather is nice today.")
        page.locator('[data-testid="stBaseButton-primary"]').click()
        expect(page.locator('[data-testid="stText"]')).to_have_count(len([e for e in list_models() if e.shipped]))
        to_translation = time.perf_counter() - start
        no_exception(page)
    (ARTIFACTS / "first-visit-seconds.json").write_text(
        f'{{"to_title": {to_title:.2f}, "to_first_translation": {to_translation:.2f}}}\n')


ZH_PAGES = [("", "翻译"), ("story", "为什么 Transformer 取代了循环神经网络"), ("arena", "竞技场"),
            ("playground", "游乐场"), ("quality", "翻译质量"), ("speed", "速度与扩展"), ("training", "训练"),
            ("lab", "实验室")]


@pytest.mark.parametrize("path,heading", ZH_PAGES)
def test_every_page_reads_in_chinese(server, page, path, heading):
    """?lang=zh: the page's title and text in Chinese, its screenshot in test-artifacts/zh-<page>.png."""
    page.goto(f"{server}/{path}?lang=zh")
    expect(page.get_by_role("heading", name=heading).first).to_be_visible()
    expect(page.get_by_text("简体中文").first).to_be_visible()  # the sidebar's language switch
    page.wait_for_timeout(1500)
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / f"zh-{path or 'translate'}.png"), full_page=True)


def test_a_chinese_browser_gets_the_chinese_page_and_translates_english(server, page):
    """No ?lang=: the browser's language decides; the models still translate English, and say so for Chinese."""
    fresh = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        page = fresh.new_page()
        page.goto(server)
        expect(page.get_by_role("heading", name="翻译").first).to_be_visible()
        page.get_by_label("句子", exact=True).fill("今天天气很好。")
        page.locator('[data-testid="stBaseButton-primary"]').click()
        expect(page.get_by_text("这句话是中文").first).to_be_visible()
        page.get_by_label("句子", exact=True).fill("The weather is nice today.")
        page.locator('[data-testid="stBaseButton-primary"]').click()
        expect(page.locator('[data-testid="stText"]')).to_have_count(len(list_models()))
        expect(page.get_by_text("循环神经网络：一个词接一个词地读")).to_be_visible()
        page.wait_for_timeout(1500)
        no_exception(page)
        page.screenshot(path=str(ARTIFACTS / "zh-translate-cards.png"), full_page=True)
        assert "lang=zh" in page.url  # the choice is part of the address, so of every copied link
    finally:
        fresh.close()
