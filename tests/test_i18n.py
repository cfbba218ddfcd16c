"""English and 简体中文: the catalog covers every string the code marks, no user-visible literal escapes `t()`, and
every page renders in Chinese."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from dashboard.i18n import CATALOGS
from engine.paths import ROOT

KEYWORDS = {"t": None, "N_": None, "Message": None}  # t("…"), N_("…") and the engine's Message("…", …)
SHOWN = [ROOT / "streamlit_app.py", *sorted((ROOT / "views").glob("*.py")), *sorted((ROOT / "dashboard").glob("*.py"))]
ENGINE = [p for p in sorted((ROOT / "engine").rglob("*.py")) if "Message(" in p.read_text()]
PAGES = ["views/translate.py", "views/story.py", "views/arena.py", "views/playground.py", "views/quality.py",
         "views/speed.py", "views/training.py", "views/lab.py"]


def marked_messages() -> dict[str, str]:
    """Every string the code marks for translation -> where it is (file:line)."""
    found = {}
    for path in SHOWN + ENGINE:
        for line, message, _, _ in extract_from_file("python", path, keywords=KEYWORDS):
            if isinstance(message, str) and message:
                found.setdefault(message, f"{path.relative_to(ROOT)}:{line}")
    return found


def chinese_catalog() -> dict[str, str]:
    with open(CATALOGS / "zh.po", "rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_marked_string_has_its_chinese_and_the_catalog_has_no_stale_entries():
    marked, catalog = marked_messages(), chinese_catalog()
    missing = {text: where for text, where in marked.items() if not catalog.get(text)}
    assert not missing, f"{len(missing)} strings have no Chinese in dashboard/locales/zh.po: {missing}"
    stale = [text for text in catalog if text not in marked]
    assert not stale, f"zh.po holds strings the code no longer uses: {stale}"


def test_each_translation_uses_only_the_placeholders_of_its_english():
    """Fewer is fine: Chinese needs no ordinal suffix ("2nd" is 第 2)."""
    wrong = {en: zh for en, zh in chinese_catalog().items() if zh and not placeholders(zh) <= placeholders(en)}
    assert not wrong, wrong


def test_the_chinese_uses_the_terms_chinese_ml_writing_uses():
    everything = " ".join(chinese_catalog().values())
    for term in ["循环神经网络", "长短期记忆网络", "门控循环单元", "注意力机制", "位置编码", "梯度消失",
                 "梯度爆炸", "梯度裁剪", "束搜索", "贪心解码"]:
        assert term in everything, term


def test_t_translates_fills_placeholders_and_translates_engine_messages(monkeypatch):
    from dashboard import i18n
    from engine.messages import Message

    assert i18n.t("Loading {count} models…", count=7) == "Loading 7 models…"  # English: outside a page
    monkeypatch.setattr(i18n, "language", lambda: "zh")
    assert i18n.t("Translate") == "翻译"
    assert i18n.t("Loading {count} models…", count=7) == "正在加载 7 个模型……"
    message = Message("Your text has {count:,} characters; only the first {kept:,} were translated.", count=2345,
                      kept=2000)
    assert message == "Your text has 2,345 characters; only the first 2,000 were translated."  # the CLI's text
    assert i18n.t(message) == "您的文本共有 2,345 个字符，只翻译了前 2,000 个。"
    assert i18n.t("a sentence no catalog has") == "a sentence no catalog has"  # falls back to English
    assert (i18n.millions(12_000_000, None), i18n.millions(4_980_000), i18n.millions(3e8)) == ("1200万", "498万",
                                                                                                  "3.0亿")
    monkeypatch.setattr(i18n, "language", lambda: "en")
    assert (i18n.millions(12_000_000, None), i18n.millions(4_980_000)) == ("12 million", "5.0 million")


# A literal is user-visible when it is prose (two words of letters), or any words given to Streamlit as a label or
# help. Not shown, so not judged: docstrings, keys and ids, dictionary keys, comparisons, CSS/HTML scaffolding, code
# spans (commands, file names), icons and addresses, and a line that says why with a "# data:" comment (an option's
# key, an English sentence for English models).
PROSE = re.compile(r"[A-Za-z]{2,}[)\].,;:!?'\"]*\s+[(\[\"']*[A-Za-z]{2,}")
LABELLED = {"title", "header", "subheader", "markdown", "caption", "text", "write", "info", "warning", "error",
            "success", "button", "download_button", "toggle", "checkbox", "selectbox", "multiselect", "radio",
            "slider", "select_slider", "segmented_control", "pills", "text_area", "text_input", "number_input",
            "expander", "popover", "tabs", "metric", "form_submit_button", "link_button", "page_link", "intro",
            "waiting_note", "source_note", "chart", "toast", "dialog"}
NOT_SHOWN_CALLS = {"t", "N_", "Message", "get", "startswith", "endswith", "split", "replace", "join", "format",
                   "removesuffix", "removeprefix", "html", "getattr", "import_module", "switch_page", "Page",
                   "set_page_config", "glob", "rglob", "open", "read_text", "Path", "cache_data", "glossary"}
ALLOWED = {"Language · 语言", "Seq2Seq Arena"}  # shown alike in both languages


def visible_literals(path: Path) -> list[tuple[int, str]]:
    """Literal prose in `path` that is not inside t()/N_(): strings a visitor would read untranslated."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body and \
                isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            skip.add(id(node.body[0].value))  # docstrings
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in NOT_SHOWN_CALLS:
                skip.update(id(n) for arg in node.args + [k.value for k in node.keywords] for n in ast.walk(arg))
            for keyword in node.keywords:
                if keyword.arg in {"key", "file_name", "mime", "icon", "language", "type", "url_path", "bind",
                                   "textposition"}:
                    skip.update(id(n) for n in ast.walk(keyword.value))
        if isinstance(node, ast.Subscript):
            skip.update(id(n) for n in ast.walk(node.slice))  # dict keys read as data["…"]
        if isinstance(node, ast.Dict):
            skip.update(id(n) for key in node.keys if key is not None for n in ast.walk(key))
        if isinstance(node, ast.Assert) and node.msg:
            skip.update(id(n) for n in ast.walk(node.msg))  # for developers
        if isinstance(node, ast.Compare):
            skip.update(id(n) for n in ast.walk(node))  # x == "…", "…" in y
        if isinstance(node, ast.JoinedStr):  # an f-string's own literal pieces are judged as one string
            skip.update(id(v) for v in node.values)
    labels: set[int] = set()  # the literal words of a Streamlit label, help text or placeholder
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in LABELLED:
            first = [] if getattr(node.func, "attr", "") == "page_link" else node.args[:1]  # page_link(path, label=)
            shown = first + [k.value for k in node.keywords if k.arg in {"help", "placeholder", "label"}]
            labels.update(id(n) for arg in shown for n in outside_calls(arg))
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or "# data:" in lines[getattr(node, "lineno", 1) - 1]:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        text = re.sub(r"`[^`]*`|:material/\w+:|https?://\S+|<[^>]*>|\{[^}]*\}", " ", text)
        if (PROSE.search(text) or id(node) in labels and re.search("[A-Za-z]{2,}", text)) and \
                text.strip() not in ALLOWED:
            found.append((node.lineno, text.strip()[:80]))
    return found


def outside_calls(node: ast.AST):
    """`node` and what it holds, except what is inside a function call (judged where that call is)."""
    yield node
    if not isinstance(node, ast.Call):
        for child in ast.iter_child_nodes(node):
            yield from outside_calls(child)


def test_no_user_visible_literal_outside_the_tables():
    leaks = {f"{path.relative_to(ROOT)}:{line}": text for path in SHOWN for line, text in visible_literals(path)}
    assert not leaks, f"{len(leaks)} literals a visitor would read untranslated: {leaks}"


def test_the_scan_finds_a_literal_left_outside_t(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('import streamlit as st\nst.caption(f"Trained on {n} sentences")\nst.title(t("Quality"))\n'
                    'st.selectbox("Model", ["a"], key="model-choice")\nst.toggle(t("Beam"), help="Wider search")\n'
                    'st.download_button(t("Download"), rows, file_name="by-length.csv")\n')
    assert [line for line, _ in visible_literals(page)] == [2, 4, 5]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_chinese(page):
    from tests.helpers import open_page

    at = open_page(page, {"lang": "zh"})
    title = at.title[0].value
    assert re.search(r"[\u4e00-\u9fff]", title), f"{page}: title {title!r} is not Chinese"
    shown = " ".join(m.value for m in list(at.markdown) + list(at.caption) + list(at.subheader))
    assert len(re.findall(r"[\u4e00-\u9fff]", shown)) > 20, f"{page}: hardly any Chinese on the page"


@pytest.mark.slow
def test_a_sentence_typed_in_chinese_gets_a_message_not_a_translation_in_either_language():
    from tests.helpers import card_titles, open_page, translate

    for language, says in (("en", "This sentence is written in Chinese"), ("zh", "这句话是中文")):
        at = translate(open_page("views/translate.py", {"lang": language}), "今天天气很好。")
        assert any(i.value.startswith(says) for i in at.info), language
        assert card_titles(at) == [] and not at.text, language
    translate(at, "The weather is nice today.")  # an English sentence still translates (AppTest formats the bound
    assert len(card_titles(at)) >= 2 and at.text  # model list in English, so in Chinese it keeps the alike names)


@pytest.mark.slow
def test_the_language_switch_translates_the_page_and_keeps_the_sentence():
    from tests.helpers import open_page

    at = open_page("views/translate.py")
    assert at.title[0].value == "Translate" and at.query_params["lang"] == "en"
    at.text_area[0].input("The house is small.")
    at.sidebar.segmented_control(key="lang").set_value("zh")
    at.run()
    assert at.title[0].value == "翻译" and at.query_params["lang"] == "zh"
    assert at.text_area[0].value == "The house is small." and at.text_area[0].label == "句子"
