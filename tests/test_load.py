"""Load test against a real `streamlit run` server: 20 concurrent chromium sessions translating at once.

Checks that every session gets exactly the translations a lone user gets (no cross-talk), that the server's
memory stays flat (models are loaded once), that one session training does not stall the others beyond
STALL_BOUND, and that a second training is turned down politely. Figures go to test-artifacts/load-test.json.

Each latency is measured twice: the server's share (from the click's rerun request leaving the page's websocket to
the arrival of the heading the page writes after every model's card), and the visitor's wait until the browser drew
it, which here includes 20 browsers drawing on the cores the server runs on. Each round also says where the machine's
CPU went (server, chromium's renderers, its GPU process, the rest), read from /proc.
"""
import asyncio
import base64
import json
import os
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from dashboard.models import RUNS_DIR, list_models, model_meta
from engine.data import corpora
from engine.inference.serving import percentile
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, require_browser, streamlit_server

require_browser()
from playwright.async_api import async_playwright, expect  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.alone,
              pytest.mark.skipif(not list_models(), reason="needs the shipped checkpoints")]
expect.set_options(timeout=240_000)

SESSIONS = 20
DONE_MARKER = "Where did each model look?"  # the heading the Translate page writes after every model's card
# Resolves once a heading holding the marker is in the page and the next frame has been drawn. A MutationObserver,
# not Playwright's expect(...).to_be_visible(): that one polls, and after every miss takes an ARIA snapshot of the
# whole page for its error message (Playwright 1.65): about 0.3 s of renderer time per click in one tab, and the
# 20 waiting tabs' snapshots competed with the server for its 2 cores.
WHEN_DRAWN = """marker => new Promise(resolve => {
  const shown = () => [...document.querySelectorAll("h3")].some(h => h.textContent.includes(marker));
  const observer = new MutationObserver(() => {
    if (shown()) { observer.disconnect(); requestAnimationFrame(() => setTimeout(resolve, 0)); }
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
})"""
STALL_BOUND = 3.0  # p95 latency with one training running, at most this many times the p95 without


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def summary(spans: list[tuple[float, float, float]], wall: float) -> dict:
    """Latency percentiles of (click, server answered, drawn) spans; throughput over `wall` seconds of translating."""
    drawn = [done - start for start, _, done in spans]
    server = [answered - start for start, answered, _ in spans]
    return {"sentences": len(spans), "p50_s": round(percentile(drawn, 50), 2),
            "p95_s": round(percentile(drawn, 95), 2), "max_s": round(max(drawn), 2), "wall_s": round(wall, 2),
            "sentences_per_s": round(len(spans) / wall, 2), "server_p50_s": round(percentile(server, 50), 2),
            "server_p95_s": round(percentile(server, 95), 2)}


def process_kind(pid: int, server_pid: int) -> str:
    """Which part of the rig a process is: the server, chromium's renderers, its GPU process, the rest of chromium, or
    anything else (this test, Playwright's driver)."""
    if pid == server_pid:
        return "server"
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    if b"--type=renderer" in command:
        return "renderers"
    if b"--type=gpu-process" in command:
        return "gpu-process"
    return "chromium, other" if b"chrom" in command else "other"


class CpuSampler:
    """CPU seconds per kind of process, sampled from /proc every 0.25 s, so that tabs closed meanwhile still count."""

    def __init__(self, server_pid: int):
        self.server_pid, self.samples, self._task = server_pid, [], None  # samples: (time, {pid: (kind, cpu s)})
        self.kinds = {}  # pid -> process_kind, read once

    def snapshot(self) -> dict:
        ticks, cpu = os.sysconf("SC_CLK_TCK"), {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    pid, fields = int(entry.name), (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if pid not in self.kinds:
                        self.kinds[pid] = process_kind(pid, self.server_pid)
                    cpu[pid] = (self.kinds[pid], (int(fields[11]) + int(fields[12])) / ticks)  # utime + stime
                except (OSError, IndexError, ValueError):
                    continue  # exited meanwhile
        return cpu

    async def _run(self):
        while True:
            self.samples.append((time.perf_counter(), self.snapshot()))
            await asyncio.sleep(0.25)

    def start(self):
        self._task = asyncio.create_task(self._run())

    def between(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds per kind of process from `start` to `end` (perf_counter times)."""
        used = Counter()
        inside = [cpu for when, cpu in self.samples if start - 0.25 <= when <= end + 0.25]
        for before, after in zip(inside, inside[1:]):
            for pid, (kind, seconds) in after.items():
                if pid in before:
                    used[kind] += seconds - before[pid][1]
        return {kind: round(seconds, 1) for kind, seconds in used.most_common()}


class ServerTimes:
    """When the page's websocket sent the click's rerun request and received the marker, on the browser's network
    clock (Chrome DevTools' websocket frame time stamps): the server's time to answer, whatever the page's renderer
    was busy with."""

    def __init__(self, marker: str):
        self.marker, self.clicked, self.answered = marker.encode(), [], []

    async def watch(self, context, page) -> None:
        devtools = await context.new_cdp_session(page)
        devtools.on("Network.webSocketFrameSent", self.on_sent)
        devtools.on("Network.webSocketFrameReceived", self.on_received)
        await devtools.send("Network.enable")

    def on_sent(self, event: dict) -> None:
        if event["response"]["opcode"] == 2:
            message = BackMsg.FromString(base64.b64decode(event["response"]["payloadData"]))
            if any(w.trigger_value for w in message.rerun_script.widget_states.widgets):  # a button was pressed
                self.clicked.append(event["timestamp"])

    def on_received(self, event: dict) -> None:
        if event["response"]["opcode"] == 2 and self.marker in base64.b64decode(event["response"]["payloadData"]):
            self.answered.append(event["timestamp"])

    async def seconds(self) -> float:
        for _ in range(100):  # the browser reports frames asynchronously: give the last one a moment
            if self.clicked and self.answered:
                break
            await asyncio.sleep(0.1)
        return self.answered[0] - self.clicked[0]


async def one_by_one(context, url, sentences, models):
    """A lone user translating each sentence in turn: outputs by sentence and a summary."""
    outputs, spans = {}, []
    for sentence in sentences:
        outputs[sentence], *span = await translate(context, url, sentence, models)
        spans.append(span)
    return outputs, summary(spans, sum(done - start for start, _, done in spans))


async def translate(context, url: str, sentence: str, models: int, ready: asyncio.Barrier | None = None):
    """Open Translate in a new tab, translate one sentence with every model; (outputs, click time, click time plus
    the server's share, time the page showed the answer)."""
    page = await context.new_page()
    server = ServerTimes(DONE_MARKER)
    await server.watch(context, page)
    await page.goto(url)
    box = page.get_by_label("Sentence", exact=True)
    await box.fill(sentence)
    await box.blur()
    await expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)  # the rerun for the text is done
    if ready:
        await ready.wait()  # every session clicks at the same moment
    drawn = asyncio.create_task(page.evaluate(WHEN_DRAWN, DONE_MARKER))  # watching before the click
    start = time.perf_counter()
    await page.locator('[data-testid="stBaseButton-primary"]').click()
    await asyncio.wait_for(drawn, 240)
    done = time.perf_counter()
    assert await page.locator('[data-testid="stException"]').count() == 0
    # The shipped models come first; the model trained during the test joins the list after its first
    # evaluation, so it may follow them.
    texts = (await page.locator('[data-testid="stText"]').all_inner_texts())[:models]
    assert len(texts) == models
    await page.close()
    return texts, start, start + await server.seconds(), done


async def concurrent_round(contexts, url, sentences, models, cpu: CpuSampler):
    """Every session clicks at once; (outputs in order, summary). Throughput counts from the first click to the last
    answer. The summary also says where the machine's CPU went while all waited (first click to the server's first
    answer) and from then to the last answer drawn."""
    ready = asyncio.Barrier(len(sentences))
    results = await asyncio.gather(*(translate(c, url, s, models, ready) for c, s in zip(contexts, sentences)))
    spans = [span for _, *span in results]
    first_click, first_answer = min(start for start, _, _ in spans), min(answered for _, answered, _ in spans)
    last_drawn = max(done for _, _, done in spans)
    return [texts for texts, *_ in results], {
        **summary(spans, last_drawn - first_click),
        "cpu_s_while_all_wait": cpu.between(first_click, first_answer),
        "cpu_s_after_first_answer": cpu.between(first_answer, last_drawn)}


async def start_training(context, url: str, name: str) -> str:
    """Ask for a training on the Training page; the message the page answers with."""
    page = await context.new_page()
    await page.goto(f"{url}/training")
    box = page.get_by_label("Name of your model")
    await box.fill(name)
    await box.blur()
    await expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
    await page.get_by_role("button", name="Start training").click()
    answer = page.locator('[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentWarning"]')
    await expect(answer.first).to_be_visible()
    text = await answer.first.inner_text()
    if "started" not in text:
        await page.close()
    return text


def class_sentences() -> list[str]:
    """SESSIONS test sentences of everyday length (ding-en-de), spread over its lengths."""
    test_pairs = corpora.load_split("ding-en-de", "test")
    return sorted({s for s, _ in test_pairs if 20 < len(s) < 90}, key=len)[::7][:SESSIONS]


async def visitors(browser) -> list:
    """One browser profile per visitor."""
    contexts = [await browser.new_context() for _ in range(SESSIONS)]
    for context in contexts:
        context.set_default_timeout(240_000)  # 20 pages load at once on 2 cores
    return contexts


async def load_test(url: str, pid: int, report: dict) -> None:
    """Fill `report` as the test goes, so a failure keeps what was measured and the runs to clean up."""
    models = len(list_models())
    sentences = class_sentences()
    assert len(set(sentences)) == SESSIONS
    weights_mb = sum(model_meta(e).get("parameters", 0) for e in list_models()) * 4 / 2**20
    report.update(models_per_sentence=models, fp32_weights_mb=round(weights_mb), sentences=sentences)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        contexts = await visitors(browser)

        cpu = CpuSampler(pid)
        cpu.start()
        alone, report["single_user"] = await one_by_one(contexts[0], url, sentences, models)  # the reference outputs
        report["rss_mb_after_single_user"] = round(rss_mb(pid))

        for round_ in (1, 2):
            shifted = sentences[round_:] + sentences[:round_]  # each round gives every session another sentence
            outputs, report[f"concurrent_round_{round_}"] = await concurrent_round(contexts, url, shifted, models, cpu)
            for sentence, texts in zip(shifted, outputs):
                assert texts == alone[sentence], f"round {round_}: {sentence!r} differs from the single-user result"
            report[f"rss_mb_after_round_{round_}"] = round(rss_mb(pid))

        name, other = f"load-{uuid.uuid4().hex[:6]}", f"load-{uuid.uuid4().hex[:6]}"
        report["runs"] = [name, other]
        report["training_answer"] = await start_training(contexts[0], url, name)
        assert "started" in report["training_answer"]
        report["second_training_answer"] = await start_training(contexts[1], url, other)
        assert "busy" in report["second_training_answer"]
        await asyncio.sleep(3)  # the training is under way
        outputs, report["single_user_while_training"] = await one_by_one(contexts[2], url, sentences[:5], models)
        assert all(outputs[s] == alone[s] for s in outputs)
        outputs, report["concurrent_while_training"] = await concurrent_round(contexts, url, sentences, models, cpu)
        assert [o == alone[s] for o, s in zip(outputs, sentences)] == [True] * SESSIONS
        report["training_steps_during_round"] = sum(
            1 for line in (RUNS_DIR / name / "metrics.jsonl").read_text().splitlines() if '"kind": "step"' in line)
        await browser.close()


def test_twenty_concurrent_sessions(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    report = {}
    try:
        with streamlit_server({"SEQ2SEQ_MAX_TRAININGS": "1"}) as (url, process):
            asyncio.run(load_test(url, process.pid, report))
    finally:
        for name in report.get("runs", []):
            shutil.rmtree(RUNS_DIR / name, ignore_errors=True)
        (ARTIFACTS / "load-test.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in report.items() if k != "sentences"}, indent=2))
    # models are loaded once per server: 20 more sessions grow memory by less than one more copy of the weights
    assert report["rss_mb_after_round_2"] - report["rss_mb_after_round_1"] < report["fp32_weights_mb"]
    assert report["training_steps_during_round"] > 0
    assert report["concurrent_while_training"]["p95_s"] <= STALL_BOUND * report["concurrent_round_2"]["p95_s"]
    assert report["single_user_while_training"]["p95_s"] <= STALL_BOUND * report["single_user"]["p95_s"]
