"""Serving many visitors at once: a micro-batcher that decodes concurrent requests for one model as one batch, and a
load generator that measures it.

Streamlit runs each visitor's session in a thread of one process, and the dashboard translates through one
`MicroBatcher` for the whole process. Requests for the same translator and the same decoding settings that arrive
while that translator is busy, or within `window_s` of each other, are decoded together: on a CPU a batch of twenty
sentences costs far less than twenty batches of one. Each request gets back its own translation; a request that fails
fails alone; each translator has its own queue, so a slow model never holds up another.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from engine.inference.translate import Translation, Translator

WINDOW_S = float(os.environ.get("SEQ2SEQ_BATCH_WINDOW_MS", "5")) / 1000  # how long a new batch waits for company
MAX_BATCH = int(os.environ.get("SEQ2SEQ_MAX_BATCH", "32"))  # sentences decoded together at most


@dataclass
class Request:
    """One sentence for one translator, and what came of it."""
    sentence: str
    woken: threading.Event = field(default_factory=threading.Event)
    result: Translation | None = None
    error: Exception | None = None
    leads: bool = False  # woken to decode the next batch, which starts with this request


class MicroBatcher:
    """Batches concurrent `translate` calls per (translator, decoding settings); thread-safe.

    The first request for an idle translator leads: it waits `window_s` for others (only if the translator had other
    requests within the last second: a lone visitor never waits), decodes the waiting requests (up to `max_batch`) as
    one batch, hands each its result, and passes the lead to the first request still waiting, whose thread then decodes
    the next batch (the requests that arrived meanwhile). So every thread works only on a batch with its own request.
    """

    def __init__(self, window_s: float = WINDOW_S, max_batch: int = MAX_BATCH):
        self.window_s, self.max_batch = window_s, max_batch
        self._lock = threading.Lock()
        self._waiting: dict[tuple, list[Request]] = {}  # per queue key, requests not yet in a batch
        self._busy: set[tuple] = set()  # queue keys with a batch being decoded (or about to be)
        self._last_arrival: dict[tuple, float] = {}  # per queue key, when its latest request came
        self.batch_sizes: Counter[int] = Counter()  # how many batches of each size were decoded

    def translate(self, translator: Translator, sentence: str, **settings) -> Translation:
        """`translator.translate([sentence], **settings)[0]`, decoded together with concurrent requests."""
        key = (id(translator), tuple(sorted(settings.items())))
        request = Request(sentence)
        with self._lock:
            now = time.monotonic()
            company_likely = now - self._last_arrival.get(key, float("-inf")) < 1.0
            if len(self._last_arrival) > 1000:  # forget translators long gone
                self._last_arrival = {k: t for k, t in self._last_arrival.items() if now - t < 1.0}
            self._last_arrival[key] = now
            self._waiting.setdefault(key, []).append(request)
            request.leads = key not in self._busy
            self._busy.add(key)
        if request.leads and company_likely:
            time.sleep(self.window_s)
        elif not request.leads:
            request.woken.wait()  # for a result, or to lead the next batch (no window: it queued meanwhile)
        if request.leads:
            self._decode_next_batch(key, translator, settings)
        if request.error is not None:
            raise request.error
        return request.result

    def _decode_next_batch(self, key: tuple, translator: Translator, settings: dict) -> None:
        with self._lock:
            waiting = self._waiting[key]
            batch, self._waiting[key] = waiting[: self.max_batch], waiting[self.max_batch :]
        try:
            self._decode(batch, translator, settings)
        finally:  # whatever happened, wake everyone and hand the lead on
            with self._lock:
                self.batch_sizes[len(batch)] += 1
                if self._waiting[key]:
                    self._waiting[key][0].leads = True
                    self._waiting[key][0].woken.set()
                else:
                    del self._waiting[key]
                    self._busy.discard(key)
            for request in batch:
                request.woken.set()

    @staticmethod
    def _decode(batch: list[Request], translator: Translator, settings: dict) -> None:
        """Each request's result or error. If the batch fails, each is decoded alone, so a bad request fails alone."""
        try:
            outcomes = translator.translate([r.sentence for r in batch], batch_size=len(batch), **settings)
        except Exception as exc:
            outcomes = [exc] if len(batch) == 1 else [attempt(translator, r.sentence, settings) for r in batch]
        for request, outcome in zip(batch, outcomes):
            request.leads = False
            if isinstance(outcome, Exception):
                request.error = outcome
            else:
                request.result = outcome


def attempt(translator: Translator, sentence: str, settings: dict) -> Translation | Exception:
    """One sentence alone: its translation, or the exception it raised."""
    try:
        return translator.translate([sentence], **settings)[0]
    except Exception as exc:
        return exc


# ---------------------------------------------------------------- load generator
def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1-99), interpolated between the values."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def visitor(translators: dict[str, Translator], sentence: str, batcher: MicroBatcher | None, **settings) -> dict:
    """What the Translate page does for one visitor: the sentence through every model in turn.
    Returns {model: text} and the seconds it took."""
    start, texts = time.perf_counter(), {}
    for name, translator in translators.items():
        if batcher is None:
            texts[name] = translator.translate([sentence], **settings)[0].text
        else:
            texts[name] = batcher.translate(translator, sentence, **settings).text
    return {"texts": texts, "seconds": time.perf_counter() - start}


def load_test(translators: dict[str, Translator], sentences: list[str], sessions: int, batched: bool = True,
              **settings) -> dict:
    """`sessions` visitors press Translate at the same moment, each with their own sentence (cycling through
    `sentences`). Returns latency percentiles per visitor (all models), throughput, batch sizes, and the outputs."""
    batcher = MicroBatcher() if batched else None
    chosen = [sentences[i % len(sentences)] for i in range(sessions)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        done = list(pool.map(lambda s: visitor(translators, s, batcher, **settings), chosen))
    wall = time.perf_counter() - start
    seconds = [d["seconds"] for d in done]
    return {"sessions": sessions, "batched": batched, "models": len(translators), "wall_s": round(wall, 2),
            "p50_s": round(statistics.median(seconds), 2), "p95_s": round(percentile(seconds, 95), 2),
            "max_s": round(max(seconds), 2), "sentences_per_s": round(sessions * len(translators) / wall, 1),
            "batch_sizes": dict(sorted(batcher.batch_sizes.items())) if batcher else {},
            "outputs": [{"sentence": s, "texts": d["texts"]} for s, d in zip(chosen, done)]}
