"""AppTest helpers shared by the page tests: open a page through the real navigation, type, read charts."""
import json

from streamlit.testing.v1 import AppTest

from dashboard.names import plain_name
from engine.models import PRESETS
from engine.paths import ROOT


def open_page(page: str, query: dict | None = None) -> AppTest:
    """The app at `page` (e.g. "views/quality.py"), rendered without an exception; opened from a link with `query`
    when given."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page != "views/translate.py":
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> list[str]:
    """Everything the page shows with st.text (user text and model outputs)."""
    return [t.value for t in at.text]


def translate(at: AppTest, text: str) -> AppTest:
    """Type `text` on the Translate page and press Translate."""
    at.text_area[0].input(text)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def card_titles(at: AppTest) -> list[str]:
    """The title of each translation card of the Translate page, in order (per input when shuffled)."""
    return [m.value.strip("*") for m in at.markdown
            if m.value.startswith("**") and m.value.endswith("**") and m.value != "**Shuffled input:**"]


def answered_models(at: AppTest) -> list[str]:
    """The model id of each translation card (a shipped model's card shows its plain name)."""
    ids = {plain_name(preset): preset for preset in PRESETS}
    return [ids.get(title, title) for title in card_titles(at)]


def plotly_titles(at: AppTest) -> list[str]:
    """The titles of the page's plotly charts, in order."""
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]
