"""Real-browser end-to-end tests: `streamlit run` on a free localhost port, driven by Debian's headless chromium."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard.models import list_models

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - CI installs it
    sync_playwright = None

if sync_playwright is None or not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail("browser tests need playwright and /usr/bin/chromium (apt-get install chromium)", pytrace=False)
    pytest.skip("playwright or chromium missing (CI installs them)", allow_module_level=True)


expect.set_options(timeout=120_000)  # the first page load also loads every model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"streamlit did not start: {process.stdout.read()}")
    yield url
    process.terminate()
    process.wait(timeout=20)


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
