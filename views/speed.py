from statistics import mean

import streamlit as st
import torch

from dashboard import figures, links, story
from dashboard.i18n import t
from dashboard.models import bench_files, list_models, load_json, load_metrics
from dashboard.names import plain_name
from dashboard.widgets import chart, intro, source_note, table
from engine.experiments import lab
from engine.experiments.bench import ARCHITECTURES, machine, sequential_steps

intro(t("Speed & scaling"), t("""
A recurrent network must finish word 1 before it can start word 2, so a long sentence means a long chain of
steps that no amount of hardware can run at once. A Transformer processes all words of a sentence together,
so parallel hardware (many cores, a GPU) helps it much more. Below: measured speeds, with the machine named —
on a small CPU the recurrent models can still come out ahead.
"""))

link = links.arrived()
LINKED = ["bench", "bench-search"]
links.hide_controls(LINKED)
links.copy_link(LINKED)

st.subheader(t("Sequential steps per sentence"))
lengths = [8, 16, 32, 64, 128, 256]
step_rows = [{"model": p, "length": n, "sequential_steps": sequential_steps(p, n)}
             for p in ARCHITECTURES for n in lengths]
alike: dict[tuple, list[str]] = {}  # models with the same layer structure share one line: name them together
for preset in ARCHITECTURES:
    alike.setdefault(tuple(sequential_steps(preset, n) for n in lengths), []).append(plain_name(preset))
chart(figures.lines({", ".join(names): (lengths, list(steps)) for steps, names in alike.items()},
                    t("Steps that must run one after another (training, teacher forcing)"),
                    t("sentence length (tokens)"), t("sequential steps"), mode="lines+markers"),
      step_rows, "sequential-steps.csv", "steps",
      t("Steps that must wait for the previous one; parallel hardware cannot shorten this chain. {models} models, "
        "{lines} lines: models with the same number of layers take the same number of steps.",
        models=len(ARCHITECTURES), lines=len(alike)))
source_note(t("Counted from each model's layer structure (engine/experiments/bench.py, sequential_steps), not "
              "timed."))

st.subheader(t("Benchmark results"))
files = bench_files()
if not files:
    st.info(t("No benchmark file yet: run `python -m engine bench` (results/bench-<machine>.json)."))
else:
    if len(files) > 1:
        st.markdown(t("**Machines side by side** (decoding ratios: lower is faster; batch 1, 24 tokens)"))
        table(story.machines_side_by_side({p.name: load_json(p) for p in files}))
    path = st.selectbox(t("Benchmark file"), files, format_func=lambda p: p.name, key="bench", bind=links.BIND)
    bench = load_json(path)
    m = bench["machine"]
    st.markdown(t("**Machine:** {cpu} · {cores} cores · {threads} torch threads · device {device} · torch {torch}",
                  cpu=m["cpu"], cores=m["cores"], threads=m["threads"], device=m["cuda_device"], torch=m["torch"]))
    train_rows = bench["training"]
    chart(figures.lines(figures.grouped_series(train_rows, "preset", "length", "tokens_per_s"),
                        t("Training speed against sentence length"), t("sentence length (tokens)"),
                        t("source+target tokens per second"), mode="lines+markers"),
          train_rows, "bench-training.csv", "bench-train",
          t("Training speed as sentences grow; higher is faster."))
    decode_rows = bench["decoding"]
    searches = {"greedy": t("greedy decoding"), "beam5": t("beam search (5)")}
    search = st.segmented_control(t("Decoding"), ["greedy", "beam5"], default="greedy", key="bench-search",
                                  bind=links.BIND, format_func=searches.get) or "greedy"
    links.refused(link, LINKED)
    at_b1 = [r for r in decode_rows if r.get("search", "greedy") == search and r.get("batch", 1) == 1]
    label = lambda r: f"{r['preset']} · {r.get('engine', 'engine')}"  # noqa: E731
    chart(figures.lines(figures.grouped_series(at_b1, label, "steps", "ms"),
                        t("{search} decoding latency at batch 1", search=search), t("output length (tokens)"),
                        t("milliseconds per sentence"), mode="lines+markers"),
          decode_rows, "bench-decoding.csv", "bench-decode",
          t("Time to write a translation of a given length, one sentence at a time; lower is faster."))
    decoder = lambda r: r.get("engine", "engine").replace("engine", "ours")  # noqa: E731
    # our decoder on the Transformer (fp32, and with the int8 output layer), the reference decoders on a Marian of
    # the same size
    at_24 = [r for r in at_b1
             if r["steps"] == 24 and (not decoder(r).startswith("ours") or r["preset"] == "transformer")]
    if len(at_24) > 1:
        chart(figures.bars([decoder(r) for r in at_24], [r["ms"] for r in at_24],
                           t("Writing 24 tokens ({search}, one sentence): three decoders, one model size",
                             search=search),
                           t("milliseconds"), x_title=t("decoder")),
              at_24, "bench-decoders.csv", "bench-decoders",
              t("Our Transformer's decoder (fp32, and with an int8 output layer where the file has it) against "
                "transformers' generate and CTranslate2 (fp32 and int8) on a Marian model of the same size; lower is "
                "faster."))
    serving = bench.get("serving") or []
    if serving:
        st.markdown(t("**A class at once.** Every visitor presses Translate at the same moment, each with their own "
                      "sentence, through all {models} shipped models (no browser: the server's own time).",
                      models=serving[0]["models"]))
        chart(figures.lines(figures.grouped_series(serving, lambda r: t("batched across visitors") if r["batched"]
                                                   else t("one visitor after another"), "sessions", "p95_s"),
                            t("Slowest visitors' wait (95th percentile) against visitors at once"),
                            t("visitors at once"), t("seconds until all translations are back"), mode="lines+markers"),
              serving, "bench-serving.csv", "bench-serving",
              t("Decoding requests from many visitors together keeps the wait short as the class grows; lower is "
                "better."))
        if not all(r["outputs_identical"] for r in serving):
            st.warning(t("In this run some batched translations differed from a lone visitor's."))
    if bench.get("ratios"):
        st.markdown(t("**Ratios within this run** (training: higher is faster; decoding: lower is faster)"))
        table([{"ratio": k, "value": v} for k, v in bench["ratios"].items()])
    if bench.get("matmul_gflops"):
        ceiling = ", ".join(f"{k.replace('_', ' ')}: {v:,.0f}" for k, v in bench["matmul_gflops"].items())
        st.markdown(t("**Matmul ceiling (GFLOP/s):** {ceiling}. Model FLOPs utilisation and peak memory per training "
                      "configuration:", ceiling=ceiling))
        table([{"model": r["preset"], "length": r["length"], "achieved GFLOP/s": round(r["achieved_gflops"], 1),
                "MFU": f"{r['mfu']:.0%}", "peak RSS (MB)": r["peak_rss_mb"]} for r in train_rows if "mfu" in r])
    thread_rows = bench["threads"]
    by_threads = figures.grouped_series(thread_rows, lambda r: t("{count} thread(s)", count=r["threads"]), "preset",
                                        "tokens_per_s")
    chart(figures.grouped_bars(by_threads, t("Thread scaling (length 32)"), t("model"), t("tokens per second")),
          thread_rows, "bench-threads.csv", "bench-threads",
          t("Training speed with more threads: a model that parallelises gains more."))
    source_note(t("{file}, made by `{command}`; best of {repeats} repeats.", file=path.name,
                  command=bench.get("command", "python -m engine bench"), repeats=bench["repeats"]))

st.subheader(t("Speed while training the shipped models"))
runs = {e.name: load_metrics(e.metrics) for e in list_models() if e.shipped}
runs = {n: r for n, r in runs.items() if r}
if runs:
    speed_rows = [{"model": n, "mean_tokens_per_s": round(mean([x["tokens_per_s"] for x in r if x["kind"] == "step"]
                                                                or [0]))} for n, r in runs.items()]
    chart(figures.bars([r["model"] for r in speed_rows], [r["mean_tokens_per_s"] for r in speed_rows],
                       t("Mean training speed of the shipped runs"), t("source+target tokens per second"), ".0f"),
          speed_rows, "training-speed.csv", "train-speed",
          t("Average training speed of each shipped model during its real training run."))
    source_note(t("From each checkpoint's metrics.jsonl (written by `python -m engine train-all`); the machine is in "
                  "its config.json."))

st.subheader(t("Measure now on this machine"))
st.markdown(t("Times one training step (batch 32) of each architecture at a few lengths, right here, best of 2."))
if st.button(t("Measure"), icon=":material/speed:"):
    bar = st.progress(0.0, t("starting…"))
    rows = lab.step_times(("gru", "gru-attn", "transformer"), (8, 32, 64), [torch.get_num_threads()], batch=32,
                          on_progress=bar.progress)
    st.session_state.live_bench = {"rows": rows, "machine": machine()}
live = st.session_state.get("live_bench")
if live:
    m = live["machine"]
    st.markdown(t("**Measured on:** {cpu} · {threads} threads · torch {torch} · CUDA device: {device}", cpu=m["cpu"],
                  threads=m["threads"], torch=m["torch"], device=m["cuda_device"]))
    chart(figures.lines(figures.grouped_series(live["rows"], "preset", "length", "tokens_per_s"),
                        t("Live: training speed against sentence length"), t("sentence length (tokens)"),
                        t("tokens per second"), mode="lines+markers"), live["rows"], "live-bench.csv", "live",
          t("Measured just now on this server; higher is faster."))
    st.caption(t("torch sees {count} threads on this server.", count=torch.get_num_threads()))
