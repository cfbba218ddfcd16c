"""Benchmarks: training throughput, decode latency, memory and matmul utilisation per architecture; many visitors.

`python -m engine bench [--quick] [--out results/bench-<machine>.json]` measures every figure as the best of
several repeats after a warm-up (timings on a shared CPU vary up to 2x) and records the machine; the serving curve
(visitors waiting on each other) is one run per point. Each training
configuration runs in a fresh process (so its peak memory is its own); decoding is compared with transformers'
`generate` and with CTranslate2 (in its own process, as its thread pool fights torch's) on the same Marian model,
in rounds: every decoder is timed once per round and keeps its fastest round, so a slow minute on a shared machine
slows one round of every decoder instead of every repeat of one.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.data.batching import synthetic_batch
from engine.evaluation.metrics import sequence_loss
from engine.inference.decoding import beam_search, greedy_decode
from engine.models import build_model, model_spec

ARCHITECTURES = ("rnn-tanh-attn", "lstm-attn", "gru", "gru-attn", "transformer", "hf-marian")
VOCAB, BATCH = 8000, 64


def machine() -> dict:
    """What ran the bench: CPU, cores, threads, torch, CUDA device."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "cuda_device": device,
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}


@contextmanager
def num_threads(n: int):
    """Run the block with torch using n intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def best_time(fn: Callable[[], None], repeats: int = 3, warmup: int = 1) -> float:
    """Seconds of the fastest of `repeats` calls of fn, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def training_throughput(preset: str, length: int, batch: int = BATCH, vocab: int = VOCAB, repeats: int = 3,
                        size: str = "base", count_flops: bool = False) -> dict:
    """Source+target tokens per second of one optimizer step (forward, backward, AdamW)."""
    torch.manual_seed(0)
    model = build_model(model_spec(preset, vocab, size)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    src, tgt_in, tgt = synthetic_batch(batch, length, vocab)

    def step():
        logits = model(src, tgt_in)
        loss = sequence_loss(logits, tgt, reduction="mean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seconds = best_time(step, repeats)
    row = {"preset": preset, "length": length, "batch": batch, "seconds": seconds,
           "tokens_per_s": 2 * batch * length / seconds, "parameters": model.num_parameters()}
    if count_flops:
        with FlopCounterMode(display=False) as counter:
            step()
        row["gflop_per_step"] = counter.get_total_flops() / 1e9
        row["achieved_gflops"] = row["gflop_per_step"] / seconds
    return row


def matmul_ceiling(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 3) -> float:
    """GFLOP/s of one n x n matmul: the most this machine's torch can do per second."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    seconds = best_time(lambda: a @ b, repeats)
    return 2 * n**3 / seconds / 1e9


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _training_job(preset: str, length: int, repeats: int, threads: int) -> dict:
    """One training configuration, run in a fresh process: throughput, FLOPs and peak memory."""
    torch.set_num_threads(threads)
    baseline = peak_rss_mb()
    row = training_throughput(preset, length, repeats=repeats, count_flops=True)
    return {**row, "threads": threads, "peak_rss_mb": round(peak_rss_mb()), "process_baseline_mb": round(baseline)}


def in_fresh_process(fn, *args):
    """fn(*args) in a new spawned process, so its memory and threads are its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as pool:
        return pool.submit(fn, *args).result()


def sequential_steps(preset: str, length: int) -> int:
    """Steps that must run one after another to encode and teacher-force a sentence of `length` tokens.

    A recurrent layer walks the sequence token by token; an attention layer handles all positions at once.
    """
    with torch.device("meta"):  # the model's sizes, without allocating it
        model = build_model(model_spec(preset, 8))
    return model.sequential_steps(length)


# ---------------------------------------------------------------- decoding
def decode_row(engine: str, preset: str, search: str, batch: int, steps: int, seconds: float) -> dict:
    """One decoding measurement as a bench-file row."""
    return {"engine": engine, "preset": preset, "search": search, "batch": batch, "steps": steps,
            "ms": 1000 * seconds / batch, "sentences_per_s": batch / seconds}


def decode_latency(preset: str, steps: int, batch: int = 1, beam: int = 1, source_length: int = 16,
                   repeats: int = 3, int8: bool = False) -> dict:
    """Our batched greedy or beam search, forced to write exactly `steps` tokens per sentence (int8: with the int8
    output layer, engine/models/int8.py)."""
    torch.manual_seed(0)
    model = build_model(model_spec(preset, VOCAB)).eval()
    if int8:
        model.use_int8_output()
    src, _, _ = synthetic_batch(batch, source_length, VOCAB)

    def run():
        if beam > 1:
            beam_search(model, src, beam, min_length=steps, max_length=steps)
        else:
            greedy_decode(model, src, min_length=steps, max_length=steps)

    return decode_row("engine int8" if int8 else "engine", preset, "greedy" if beam == 1 else f"beam{beam}", batch,
                      steps, best_time(run, repeats))


def reference_marian(directory: Path):
    """A Marian of the hf-marian preset's size, with real Marian's token ids (eos 0, pad = start = last id), saved
    with a tokenizer beside it so CTranslate2 can convert it."""
    from tokenizers import Tokenizer, models
    from transformers import MarianMTModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    model = build_model(model_spec("hf-marian", VOCAB)).model
    model.config.update({"eos_token_id": 0, "pad_token_id": VOCAB - 1, "decoder_start_token_id": VOCAB - 1,
                         "forced_eos_token_id": None, "bos_token_id": None})
    model.generation_config.update(eos_token_id=0, pad_token_id=VOCAB - 1, decoder_start_token_id=VOCAB - 1,
                                   forced_eos_token_id=None, bos_token_id=None)
    hf = MarianMTModel(model.config)
    hf.load_state_dict(model.state_dict())
    hf.save_pretrained(directory)
    vocab = {"</s>": 0, "<unk>": 1, **{f"t{i}": i for i in range(2, VOCAB - 1)}, "<pad>": VOCAB - 1}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    fast.save_pretrained(directory)
    return hf.eval()


@torch.inference_mode()
def generate_latency(model, steps: int, batch: int = 1, beam: int = 1, source_length: int = 16,
                     repeats: int = 3) -> dict:
    """transformers' `generate` on the reference Marian, forced to write exactly `steps` tokens."""
    src = torch.randint(2, VOCAB - 1, (batch, source_length), generator=torch.Generator().manual_seed(0))
    src[:, -1] = 0

    def run():
        model.generate(input_ids=src, attention_mask=torch.ones_like(src), num_beams=beam, do_sample=False,
                       min_new_tokens=steps, max_new_tokens=steps)

    return decode_row("transformers generate", "hf-marian", "greedy" if beam == 1 else f"beam{beam}", batch, steps,
                      best_time(run, repeats))


CT2_TIMER = """
import json, sys, time
import ctranslate2
path, threads, jobs, repeats = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
translator = ctranslate2.Translator(path, device="cpu", inter_threads=1, intra_threads=threads)
source = [f"t{i}" for i in range(2, 17)] + ["</s>"]
out = []
for batch, beam, steps in jobs:
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        translator.translate_batch([source] * batch, beam_size=beam, min_decoding_length=steps,
                                   max_decoding_length=steps)
        times.append(time.perf_counter() - start)
    out.append([batch, beam, steps, min(times[1:])])
print(json.dumps(out))
"""


def ctranslate2_latency(marian_dir: Path, jobs: list[tuple[int, int, int]], threads: int, repeats: int) -> list[dict]:
    """CTranslate2 on the converted reference Marian (fp32 and int8), each timed in its own process."""
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError:
        return []
    rows = []
    for quantization in ("float32", "int8"):
        out = marian_dir.parent / f"ct2-{quantization}"
        if not out.exists():  # converted once, timed every round
            TransformersConverter(str(marian_dir)).convert(str(out), quantization=quantization)
        done = subprocess.run([sys.executable, "-c", CT2_TIMER, str(out), str(threads), json.dumps(jobs), str(repeats)],
                              capture_output=True, text=True, check=True)
        for batch, beam, steps, seconds in json.loads(done.stdout):
            rows.append(decode_row(f"ctranslate2 {'fp32' if quantization == 'float32' else 'int8'}", "hf-marian",
                                   "greedy" if beam == 1 else f"beam{beam}", batch, steps, seconds))
    return rows


# ---------------------------------------------------------------- many visitors
def serving_curve(sessions: tuple[int, ...] = (1, 5, 10, 20, 30)) -> list[dict]:
    """The Translate page's work for N visitors who press Translate together, each with their own sentence, through
    every shipped model (greedy, with attention, as the page asks): with the micro-batcher and without. A row per
    (N, batched) with latency percentiles per visitor and throughput; `outputs_identical` says whether the batched
    translations equal those of each visitor alone."""
    from engine.data.corpora import load_split
    from engine.inference.decoding import SERVING_LENGTH_PENALTY
    from engine.inference.serving import load_test, visitor
    from engine.inference.translate import Translator
    from engine.paths import CHECKPOINTS_DIR, SHIPPED

    translators = {name: Translator.load(CHECKPOINTS_DIR / name) for name in SHIPPED}
    sentences = sorted({s for s, _ in load_split("ding-en-de", "test") if 20 < len(s) < 90}, key=len)[::7][:30]
    settings = {"beam": 1, "length_penalty": SERVING_LENGTH_PENALTY, "with_attention": True}
    alone = {s: visitor(translators, s, None, **settings)["texts"] for s in sentences}
    rows = []
    for n in sessions:
        for batched in (False, True):
            row = load_test(translators, sentences, n, batched, **settings)
            same = all(o["texts"] == alone[o["sentence"]] for o in row.pop("outputs"))
            rows.append({**row, "outputs_identical": same})
    return rows


# ---------------------------------------------------------------- the suite
def fastest_rows(rows: list[dict]) -> list[dict]:
    """The fastest row of each decoding configuration (engine, preset, search, batch, steps), in first-seen order."""
    best: dict[tuple, dict] = {}
    for row in rows:
        key = (row["engine"], row["preset"], row["search"], row["batch"], row["steps"])
        if key not in best or row["ms"] < best[key]["ms"]:
            best[key] = row
    return list(best.values())


def run_suite(quick: bool = False, progress: Callable[[float, str], None] | None = None) -> dict:
    """Everything the Speed page shows, measured in one run on this machine."""
    lengths = (8, 16, 32, 64) if quick else (8, 16, 32, 64, 128, 256)
    outputs = (8, 24) if quick else (8, 24, 48, 96)
    repeats = 3
    all_threads = torch.get_num_threads()
    decoders = ("gru", "gru-attn", "transformer", "hf-marian")
    decode_jobs = [(1, 1, n) for n in outputs] + [(1, 5, n) for n in outputs] + [(32, 1, 24), (32, 5, 24)]
    jobs = [("train", a, n, all_threads) for a in ARCHITECTURES for n in lengths]
    jobs += [("train", a, 32, 1) for a in ARCHITECTURES if all_threads > 1]  # thread scaling
    jobs += [("decode round", "every decoder", r + 1, all_threads) for r in range(repeats)]
    jobs += [("serving", "shipped", (1, 10, 20) if quick else (1, 5, 10, 20, 30), all_threads)]
    result = {"machine": machine(), "measured_on": time.strftime("%Y-%m-%d"), "quick": quick, "repeats": repeats,
              "vocab": VOCAB, "batch": BATCH, "matmul_gflops": {}, "training": [], "decoding": [], "threads": [],
              "serving": []}
    for threads in sorted({1, all_threads}):
        with num_threads(threads):
            result["matmul_gflops"][f"fp32_{threads}_threads"] = round(matmul_ceiling(torch.float32), 1)
            bf16 = matmul_ceiling(torch.bfloat16, n=512, repeats=1)
            result["matmul_gflops"][f"bf16_{threads}_threads"] = round(bf16, 1)
    with tempfile.TemporaryDirectory() as tmp:
        marian = reference_marian(Path(tmp) / "marian")
        decoders_timed_once = [  # one call each per round: one warm-up, one timed run
            *(partial(decode_latency, a, steps, batch, beam, repeats=1) for a in decoders
              for batch, beam, steps in decode_jobs),
            *(partial(decode_latency, "transformer", steps, batch, beam, repeats=1, int8=True)
              for batch, beam, steps in decode_jobs if batch == 1),
            *(partial(generate_latency, marian, steps, batch, beam, repeats=1) for batch, beam, steps in decode_jobs),
        ]
        decode_rows = []
        for i, (kind, preset, job, threads) in enumerate(jobs):
            if progress:
                progress(i / len(jobs), f"{kind} {preset} {job}")
            if kind == "train":
                row = in_fresh_process(_training_job, preset, job, repeats, threads)
                row["sequential_steps"] = sequential_steps(preset, job)
                row["mfu"] = row["achieved_gflops"] / result["matmul_gflops"][f"fp32_{threads}_threads"]
                result["training" if threads == all_threads else "threads"].append(row)
            elif kind == "decode round":
                decode_rows += [measure() for measure in decoders_timed_once]
                decode_rows += ctranslate2_latency(Path(tmp) / "marian", decode_jobs, all_threads, repeats=1)
            else:
                result["serving"] = serving_curve(job)
    result["decoding"] = fastest_rows(decode_rows)
    result["threads"] += [{**r, "threads": all_threads} for r in result["training"] if r["length"] == 32]
    result["ratios"] = ratios(result)
    if progress:
        progress(1.0, "done")
    return result


def ratios(result: dict) -> dict:
    """The issue's targets as ratios within this one run."""
    train = {(r["preset"], r["length"]): r["tokens_per_s"] for r in result["training"]}
    dec = {(r["engine"], r["preset"], r["search"], r["batch"], r["steps"]): r["ms"] for r in result["decoding"]}
    out = {f"train_transformer_over_marian_len{n}": round(train[("transformer", n)] / train[("hf-marian", n)], 2)
           for (p, n) in train if p == "transformer" and ("hf-marian", n) in train}
    for search in ("greedy", "beam5"):
        ours = dec.get(("engine", "transformer", search, 1, 24))
        theirs = dec.get(("transformers generate", "hf-marian", search, 1, 24))
        ct2 = dec.get(("ctranslate2 fp32", "hf-marian", search, 1, 24))
        ours_int8, ct2_int8 = dec.get(("engine int8", "transformer", search, 1, 24)), dec.get(
            ("ctranslate2 int8", "hf-marian", search, 1, 24))
        if ours_int8 and ct2_int8:
            out[f"decode_{search}_b1_24_transformer_int8_over_ctranslate2_int8"] = round(ours_int8 / ct2_int8, 2)
        if ours and theirs:
            out[f"decode_{search}_b1_24_transformer_over_generate"] = round(ours / theirs, 2)
        if ours and ct2:
            out[f"decode_{search}_b1_24_transformer_over_ctranslate2_fp32"] = round(ours / ct2, 2)
    return out
