"""Command line: `python -m engine {data,train,train-all,eval,translate,export,bench,report} --help`."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
from dataclasses import fields
from pathlib import Path

from . import corpora
from .checkpoint import CheckpointError, atomic_write_json, load_checkpoint, save_checkpoint
from .models import PRESETS, SIZES

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS_DIR = ROOT / "checkpoints"
RUNS_DIR = ROOT / "runs"
RESULTS_DIR = ROOT / "results"
SHIPPED = ("gru-attn", "transformer", "hf-marian", "lstm-attn", "gru", "transformer-nopos", "rnn-tanh-attn")


def command_line() -> str:
    return "python -m engine " + " ".join(shlex.quote(a) for a in sys.argv[1:])


# ---------------------------------------------------------------- data
def cmd_data(args) -> None:
    if args.action == "build":
        counts = corpora.build(args.name)
        print(json.dumps({args.name: counts}, indent=2))
    else:
        for name, info in corpora.CORPORA.items():
            sizes = {s: len(corpora.read_tsv(corpora.DATA_DIR / name / f"{s}.tsv.gz"))
                     for s in corpora.SPLITS if (corpora.DATA_DIR / name / f"{s}.tsv.gz").exists()}
            print(f"{name}: directions {corpora.directions(name)}; {sizes}; source {info.source}")


# ---------------------------------------------------------------- train
def train_config_from(args):
    from .training import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if args.direction is None:
        values["direction"] = corpora.directions(args.corpus)[0]
    return TrainConfig(**values)


def run_training(cfg, run_dir: Path, resume: bool) -> None:
    from tqdm import tqdm

    from .training import Trainer

    if (run_dir / "checkpoint").exists() and not resume:
        sys.exit(f"{run_dir} already holds a run: add --resume to continue it, or pick another --name")
    main = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    total = int(cfg.minutes * 60) if cfg.minutes else cfg.max_steps
    bar = tqdm(total=total, unit="s" if cfg.minutes else "step", dynamic_ncols=True, desc=run_dir.name, disable=not main)

    def on_record(record: dict) -> None:
        if record["kind"] == "step":
            bar.n = int(record["train_seconds"]) if cfg.minutes else record["step"]
            bar.set_postfix(loss=record["loss"], tok_s=int(record["tokens_per_s"]), gnorm=record["grad_norm"], refresh=False)
            bar.update(0)
        elif record["kind"] == "eval":
            bar.write(f"epoch {record['epoch']} step {record['step']}: valid loss {record['valid_loss']}, BLEU {record['valid_bleu']}")

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` saves and exits like Ctrl-C
    trainer = Trainer(cfg, run_dir, on_record=on_record)
    bar.n = int(trainer.state.train_seconds) if cfg.minutes else trainer.state.step
    try:
        state = trainer.train()
    finally:
        trainer.close()
    bar.close()
    if main:
        print(f"{run_dir}: {state.finished} after {state.step} steps, {state.train_seconds / 60:.1f} training minutes")
    if state.finished == "interrupted":
        sys.exit(f"interrupted; saved {run_dir / 'checkpoint'} (continue with --resume)")


def cmd_train(args) -> None:
    cfg = train_config_from(args)
    run_dir = Path(args.run_dir) if args.run_dir else RUNS_DIR / (args.name or cfg.preset)
    run_training(cfg, run_dir, args.resume)


def cmd_train_all(args) -> None:
    """Train every shipped model with the same budget, export and evaluate each (resumable: re-run to continue)."""
    for preset in args.presets or SHIPPED:
        args.preset = preset
        cfg = train_config_from(args)
        run_dir = RUNS_DIR / "shipped" / preset
        run_training(cfg, run_dir, resume=True)
        export(run_dir, CHECKPOINTS_DIR / preset, command=command_line())
        evaluate_checkpoint(CHECKPOINTS_DIR / preset, "test", beam=args.beam)


# ---------------------------------------------------------------- export / eval / translate
def export(run_dir: Path, out: Path, command: str) -> None:
    """Ship the best weights of a run as an fp16 checkpoint with its training log."""
    source = run_dir / "best" if (run_dir / "best").exists() else run_dir / "checkpoint"
    model, spec, tokenizer, meta = load_checkpoint(source)
    meta = {**meta, "command": command, "exported_from": str(source.relative_to(ROOT) if source.is_relative_to(ROOT) else source)}
    save_checkpoint(out, model, spec, tokenizer, meta, half=True)
    shutil.copy(run_dir / "metrics.jsonl", out / "metrics.jsonl")
    print(f"exported {source} -> {out}")


def evaluate_checkpoint(path: Path, split: str, beam: int, length_penalty: float = 1.0) -> dict:
    from .evaluation import evaluation_record
    from .translate import Translator

    translator = Translator.load(path)
    pairs = corpora.load_split(translator.meta["corpus"], split, translator.meta["direction"])
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    result = evaluation_record(translator, pairs, split, f"python -m engine eval {shown} --split {split} --beam {beam}",
                               beam, length_penalty)
    atomic_write_json(path / "eval.json", result)
    print(f"{path.name}: BLEU {result['bleu']}  chrF {result['chrf']}  TER {result['ter']}  ppl {result['perplexity']}")
    return result


def cmd_eval(args) -> None:
    evaluate_checkpoint(Path(args.checkpoint).resolve(), args.split, args.beam, args.length_penalty)


def cmd_export(args) -> None:
    export(Path(args.run_dir), Path(args.out), command_line())


def cmd_translate(args) -> None:
    from .hf_interop import load_translator
    from .translate import InputError, prepare_input

    translator = load_translator(Path(args.checkpoint))
    for text in args.sentences or sys.stdin:
        try:
            sentence, notice = prepare_input(text)
        except InputError:
            continue  # blank lines
        if notice:
            print(f"note: {notice}", file=sys.stderr)
        t = translator.translate([sentence], beam=args.beam, length_penalty=args.length_penalty)[0]
        print(t.text if not args.verbose else f"{t.text}\t[{t.ms:.1f} ms, {len(t.tokens)} tokens]")


def cmd_export_hf(args) -> None:
    from .hf_interop import export_transformer

    out = export_transformer(Path(args.checkpoint), Path(args.out))
    print(f"wrote {out} (load it with transformers.AutoModelForSeq2SeqLM.from_pretrained, or drop it into hf-models/)")


def cmd_report(args) -> None:
    """Markdown table of the shipped checkpoints' eval.json files (the README table)."""
    rows = []
    for path in sorted(Path(args.dir).glob("*/eval.json")):
        e = json.loads(path.read_text())
        rows.append(f"| {e['checkpoint']} | {e['bleu']} | {e['chrf']} | {e['ter']} | {e['perplexity']} | "
                    f"{e['parameters'] / 1e6:.2f}M | {e['train_minutes']} |")
    if not rows:
        sys.exit(f"no */eval.json under {args.dir}")
    first = json.loads(next(Path(args.dir).glob("*/eval.json")).read_text())
    print("| model | BLEU | chrF | TER | test ppl | parameters | training minutes |\n|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nBLEU signature: `{first['bleu_signature']}`; chrF: `{first['chrf_signature']}`; "
          f"TER: `{first['ter_signature']}`; decoding: beam {first['decoding']['beam']}.")


def cmd_bench(args) -> None:
    from tqdm import tqdm

    from .bench import run_suite

    bar = tqdm(total=100, unit="%", dynamic_ncols=True)

    def progress(fraction: float, label: str) -> None:
        bar.n = int(100 * fraction)
        bar.set_description(label)
        bar.refresh()

    result = {**run_suite(args.quick, progress), "command": command_line()}
    bar.close()
    out = Path(args.out or RESULTS_DIR / f"bench-{result['machine']['host']}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, result)
    for row in result["training"]:
        print(f"train  {row['preset']:<12} len {row['length']:>4}: {row['tokens_per_s']:>9,.0f} tokens/s")
    for row in result["decoding"]:
        print(f"decode {row['engine']:<22} {row['preset']:<10} {row['search']:<6} batch {row['batch']:>2}, "
              f"{row['steps']:>3} tokens: {row['ms']:>7.1f} ms/sentence")
    for name, value in result["ratios"].items():
        print(f"ratio  {name}: {value}")
    print(f"saved {out}")


# ---------------------------------------------------------------- parser
def add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", default="ding-en-de", choices=list(corpora.CORPORA))
    p.add_argument("--direction", help="e.g. en-de (default: the corpus's first direction)")
    p.add_argument("--size", choices=list(SIZES), help="model size (default base)")
    p.add_argument("--minutes", type=float, help="training-time budget")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--max-epochs", type=int)
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--max-tokens", type=int, help="padded tokens per batch")
    p.add_argument("--lr", type=float)
    p.add_argument("--schedule", choices=["inverse-sqrt", "constant"], help="learning rate after warm-up")
    p.add_argument("--warmup-steps", type=int)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--clip-norm", type=float, help="0 disables clipping")
    p.add_argument("--patience", type=int, help="early stopping after N evaluations without improvement")
    p.add_argument("--eval-every", type=int, help="steps between evaluations (default: every epoch)")
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--extra-phrases", action="store_true", default=None, help="add ding phrase pairs to training")
    p.add_argument("--bf16", action="store_true", default=None, help="bf16 autocast")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--train-limit", type=int, help="use only the first N training pairs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Seq2Seq Arena engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="build or list the corpora")
    p.add_argument("action", choices=["build", "info"])
    p.add_argument("name", nargs="?", default="ding-en-de", choices=list(corpora.CORPORA))
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train one model (Ctrl-C saves and exits; --resume continues)")
    p.add_argument("--preset", default="gru-attn", choices=list(PRESETS))
    p.add_argument("--name", help="run name (default: the preset); the run lives in runs/<name>")
    p.add_argument("--run-dir", help="explicit run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in the run directory")
    add_training_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-all", help="train, export and evaluate every shipped model with one budget")
    p.add_argument("--presets", nargs="*", choices=list(PRESETS), help=f"default: {' '.join(SHIPPED)}")
    p.add_argument("--beam", type=int, default=5, help="beam size of the test evaluation")
    add_training_options(p)
    p.set_defaults(func=cmd_train_all)

    p = sub.add_parser("eval", help="sacrebleu BLEU/chrF/TER, BLEU by length, perplexity -> CHECKPOINT/eval.json")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="test", choices=list(corpora.SPLITS))
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--length-penalty", type=float, default=1.0)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("translate", help="translate sentences (arguments, or one per line on stdin); CHECKPOINT may "
                                         "also be a local transformers model directory")
    p.add_argument("checkpoint")
    p.add_argument("sentences", nargs="*")
    p.add_argument("--beam", type=int, default=1)
    p.add_argument("--length-penalty", type=float, default=1.0)
    p.add_argument("-v", "--verbose", action="store_true", help="also print latency and token count")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("export", help="ship a run's best weights (fp16) as a checkpoint directory")
    p.add_argument("run_dir")
    p.add_argument("out")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("export-hf", help="write an engine Transformer checkpoint as a transformers (Pegasus) directory")
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.set_defaults(func=cmd_export_hf)

    p = sub.add_parser("bench", help="training tokens/s and decode latency vs length -> results/bench-<host>.json")
    p.add_argument("--quick", action="store_true", help="fewer lengths and repeats (a few minutes)")
    p.add_argument("--out", help="output JSON path")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("report", help="markdown table of checkpoints/*/eval.json")
    p.add_argument("--dir", default=str(CHECKPOINTS_DIR))
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CheckpointError, corpora.CorpusError, ValueError) as exc:
        sys.exit(f"error: {exc}")
