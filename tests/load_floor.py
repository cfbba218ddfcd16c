"""How much of a class's wait is the page itself? `python -m tests.load_floor [--pairs 3]`

Runs the load test's rounds (tests/test_load.py: 20 chromium sessions press Translate together, on the server's
cores) against the Translate page and against a bare page that translates with the same models through the same
micro-batcher but draws only a text box, a button and one line per model (tests/data/bare_translate_page.py). The two
servers alternate, a fresh one each time. Writes test-artifacts/load-floor.json. A measurement, not a test.
"""
import argparse
import asyncio
import json
import statistics

from playwright.async_api import async_playwright

from dashboard.models import list_models
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, streamlit_server
from tests.test_load import CpuSampler, class_sentences, concurrent_round, one_by_one, visitors

PAGES = {"translate page": "streamlit_app.py", "bare page": "tests/data/bare_translate_page.py"}


async def rounds(url: str, pid: int, count: int) -> list[dict]:
    """A lone visitor translating every sentence in turn (the reference outputs), then `count` rounds of every
    session at once."""
    models, sentences = len(list_models()), class_sentences()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        contexts = await visitors(browser)
        cpu = CpuSampler(pid)
        cpu.start()
        alone, _ = await one_by_one(contexts[0], url, sentences, models)
        reports = []
        for round_ in range(1, count + 1):
            shifted = sentences[round_:] + sentences[:round_]
            outputs, report = await concurrent_round(contexts, url, shifted, models, cpu)
            assert all(texts == alone[s] for s, texts in zip(shifted, outputs)), "a session got another's output"
            report["cpu_s_total"] = round(sum(report["cpu_s_while_all_wait"].values())
                                          + sum(report["cpu_s_after_first_answer"].values()), 1)
            reports.append(report)
        await browser.close()
    return reports


def summarize(reports: list[dict]) -> dict:
    """Medians over rounds: p95 until drawn, the server's share, and CPU seconds per kind of process."""
    def median(values):
        return round(statistics.median(values), 2)

    kinds = {kind for r in reports for kind in r["cpu_s_while_all_wait"] | r["cpu_s_after_first_answer"]}
    cpu = {kind: median([r["cpu_s_while_all_wait"].get(kind, 0) + r["cpu_s_after_first_answer"].get(kind, 0)
                         for r in reports]) for kind in sorted(kinds)}
    return {"p95_s_per_round": [r["p95_s"] for r in reports], "median_p95_s": median([r["p95_s"] for r in reports]),
            "median_server_p95_s": median([r["server_p95_s"] for r in reports]),
            "median_cpu_s_per_round": median([r["cpu_s_total"] for r in reports]), "median_cpu_s_by_kind": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="servers per page, alternated")
    parser.add_argument("--rounds", type=int, default=2, help="concurrent rounds per server")
    args = parser.parse_args()
    runs = {name: [] for name in PAGES}
    for _ in range(args.pairs):
        for name, script in PAGES.items():
            with streamlit_server(script=script) as (url, process):
                runs[name] += asyncio.run(rounds(url, process.pid, args.rounds))
            print(name, [r["p95_s"] for r in runs[name]], flush=True)
    summary = {name: summarize(reports) for name, reports in runs.items()}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load-floor.json").write_text(json.dumps({"summary": summary, "rounds": runs}, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
