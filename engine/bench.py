"""Benchmarks: training throughput and decode latency against sequence length, per architecture.

`python -m engine bench [--quick] [--out results/bench-<machine>.json]` measures every figure as the best of
several repeats after a warm-up (timings on a shared CPU vary up to 2x) and records the machine.
"""
from __future__ import annotations

import os
import platform
import socket
import time
from contextlib import contextmanager
from typing import Callable

import torch
import torch.nn.functional as F

from .models import build_model, model_spec
from .tokenizer import BOS_ID, EOS_ID, PAD_ID

ARCHITECTURES = ("gru", "gru-attn", "lstm-attn", "transformer", "hf-marian")


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "cuda_device": device, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


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
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def synthetic_batch(batch: int, length: int, vocab: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, vocab, (batch, length), generator=g)
    src[:, -1] = EOS_ID
    tgt = torch.randint(4, vocab, (batch, length), generator=g)
    tgt_in = torch.cat([torch.full((batch, 1), BOS_ID), tgt[:, :-1]], 1)
    return src, tgt_in, tgt


def training_throughput(preset: str, length: int, batch: int = 64, vocab: int = 8000, repeats: int = 3,
                        size: str = "base") -> dict:
    """Source+target tokens per second of one optimizer step (forward, backward, AdamW)."""
    torch.manual_seed(0)
    model = build_model(model_spec(preset, vocab, size)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    src, tgt_in, tgt = synthetic_batch(batch, length, vocab)

    def step():
        loss = F.cross_entropy(model(src, tgt_in).transpose(1, 2), tgt, ignore_index=PAD_ID)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seconds = best_time(step, repeats)
    return {"preset": preset, "length": length, "batch": batch, "seconds": seconds,
            "tokens_per_s": 2 * batch * length / seconds, "parameters": model.num_parameters()}


def sequential_steps(preset: str, length: int) -> int:
    """Steps that must run one after another to encode and teacher-force a sentence of `length` tokens.

    A recurrent layer walks the sequence token by token; an attention layer handles all positions at once.
    """
    config = model_spec(preset, 8)["config"]
    if "layers" in config:  # recurrent: every layer of encoder and decoder is a chain of `length` steps
        return 2 * config["layers"] * length
    return config["encoder_layers"] + config["decoder_layers"]


@torch.inference_mode()
def decode_latency(preset: str, steps: int = 24, source_length: int = 16, vocab: int = 8000, repeats: int = 3) -> dict:
    """Milliseconds to encode one sentence and run `steps` greedy incremental decoder steps at batch 1."""
    torch.manual_seed(0)
    model = build_model(model_spec(preset, vocab)).eval()
    src, _, _ = synthetic_batch(1, source_length, vocab)

    def run():
        enc = model.encode(src)
        state, prev = model.init_state(enc), torch.tensor([BOS_ID])
        for _ in range(steps):
            logits, state = model.step(prev, state, enc)
            prev = logits.argmax(-1)

    return {"preset": preset, "steps": steps, "ms": 1000 * best_time(run, repeats)}


def run_suite(quick: bool = False, progress: Callable[[float, str], None] | None = None) -> dict:
    """Training tokens/s vs length, decode latency vs output length, and thread scaling, for every architecture."""
    lengths = (8, 16, 32, 64) if quick else (8, 16, 32, 64, 128, 256)
    outputs = (8, 24) if quick else (8, 24, 48, 96)
    repeats = 2 if quick else 3
    all_threads = torch.get_num_threads()
    jobs = [("train", a, n) for a in ARCHITECTURES for n in lengths] + [("decode", a, n) for a in ARCHITECTURES for n in outputs]
    jobs += [("threads", a, t) for a in ARCHITECTURES for t in sorted({1, all_threads})]
    result = {"machine": machine(), "quick": quick, "repeats": repeats, "training": [], "decoding": [], "threads": []}
    for i, (kind, preset, n) in enumerate(jobs):
        if progress:
            progress(i / len(jobs), f"{kind} {preset} {n}")
        if kind == "train":
            result["training"].append({**training_throughput(preset, n, repeats=repeats), "sequential_steps": sequential_steps(preset, n)})
        elif kind == "decode":
            result["decoding"].append(decode_latency(preset, steps=n, repeats=repeats))
        else:
            with num_threads(n):
                result["threads"].append({**training_throughput(preset, 32, repeats=repeats), "threads": n})
    if progress:
        progress(1.0, "done")
    return result
