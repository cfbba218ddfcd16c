"""Command line: `python -m engine COMMAND --help` for data, train, train-all, train-set, promote-set, eval, translate,
export, bench, serve-load, report and the rest."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import typing
from dataclasses import fields
from pathlib import Path

from engine.data import corpora
from engine.inference.decoding import SERVING_LENGTH_PENALTY
from engine.models import PRESETS
from engine.models.checkpoint import CheckpointError, atomic_write_json
from engine.paths import CHECKPOINTS_DIR, RESULTS_DIR, RUNS_DIR, SHIPPED


def command_line() -> str:
    """This process's command line, as the user could type it again."""
    return "python -m engine " + " ".join(shlex.quote(a) for a in sys.argv[1:])


# ---------------------------------------------------------------- data
def cmd_data(args) -> None:
    """`data build NAME` / `data info`."""
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
    """A TrainConfig from the parsed flags (unset flags keep the dataclass defaults)."""
    from engine.training.trainer import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in names and v is not None})
    if args.direction is None:  # the corpus's own first direction, not the dataclass's
        cfg.direction = corpora.directions(cfg.corpus)[0]
    return cfg


def run_training(cfg, run_dir: Path, resume: bool) -> None:
    """Train (or resume) one run with a progress bar; Ctrl-C or SIGTERM saves and exits."""
    from tqdm import tqdm

    from engine.training.trainer import Trainer

    if (run_dir / "checkpoint").exists() and not resume:
        sys.exit(f"{run_dir} already holds a run: add --resume to continue it, or pick another --name")
    main = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    progress = (lambda r: int(r["train_seconds"])) if cfg.minutes else (lambda r: r["tokens_seen"]) \
        if cfg.max_train_tokens else (lambda r: r["step"])
    total, unit = (int(cfg.minutes * 60), "s") if cfg.minutes else (cfg.max_train_tokens, "tok") \
        if cfg.max_train_tokens else (cfg.max_steps, "step")
    bar = tqdm(total=total, unit=unit, dynamic_ncols=True, desc=run_dir.name, disable=not main, unit_scale=True)

    def on_record(record: dict) -> None:
        if record["kind"] == "step":
            bar.n = progress(record)
            bar.set_postfix(loss=record["loss"], tok_s=int(record["tokens_per_s"]), gnorm=record["grad_norm"],
                            refresh=False)
            bar.update(0)
        elif record["kind"] == "eval":
            scores = ", ".join(f"{k[6:]} {v}" for k, v in record.items() if k.startswith(("valid_bleu", "valid_chrf")))
            bar.write(f"epoch {record['epoch']} step {record['step']} ({record['tokens_seen']:,} tokens): "
                      f"valid loss {record['valid_loss']}, {scores}")

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` saves and exits like Ctrl-C
    trainer = Trainer(cfg, run_dir, on_record=on_record)
    bar.n = progress({"train_seconds": trainer.state.train_seconds, "tokens_seen": trainer.state.tokens_seen,
                      "step": trainer.state.step})
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
    """`train`: one run in runs/<name> (or --run-dir)."""
    cfg = train_config_from(args)
    run_dir = Path(args.run_dir) if args.run_dir else RUNS_DIR / (args.name or cfg.preset)
    run_training(cfg, run_dir, args.resume)


def cmd_train_all(args) -> None:
    """Train every shipped model with the same budget, export it and evaluate it on the test split of every corpus
    in its mix (resumable: re-run, with a larger budget if you like, to continue)."""
    from engine.shipping.sets import test_corpora

    for preset in args.presets or SHIPPED:
        args.preset = preset
        cfg = train_config_from(args)
        run_dir = RUNS_DIR / "shipped" / preset
        run_training(cfg, run_dir, resume=True)
        export(run_dir, CHECKPOINTS_DIR / preset, command=command_line())
        for corpus in test_corpora(cfg):
            evaluate_checkpoint(CHECKPOINTS_DIR / preset, "test", args.beam, args.length_penalty, corpus)


def cmd_train_set(args) -> None:
    """`train-set STAGING`: the set's models not staged yet, one whole run each, exported, scored and recorded in
    STAGING/SET.json (a later call with the same settings goes on with the rest)."""
    from engine.shipping.sets import read_manifest, train_set

    staging = Path(args.staging)
    manifest = read_manifest(staging)
    presets = args.presets or (manifest["presets"] if manifest else list(SHIPPED))
    known = {**manifest["settings"], **manifest["decoding"]} if manifest else \
        {"beam": 5, "length_penalty": SERVING_LENGTH_PENALTY}
    for key, value in known.items():  # flags left out: the set's own
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.preset = presets[0]
    cfg = train_config_from(args)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` saves the run like Ctrl-C
    try:
        train_set(staging, cfg, presets, args.beam, args.length_penalty,
                  Path(args.runs_dir) if args.runs_dir else RUNS_DIR / "sets" / staging.name,
                  command_line(), args.count, say=lambda line: print(line, flush=True), first=tuple(args.first or ()))
    except KeyboardInterrupt:
        sys.exit("interrupted: the run is saved under runs/sets/; the same command continues it")


def cmd_promote_set(args) -> None:
    """`promote-set STAGING`: the complete staged set replaces the shipped one."""
    from engine.shipping.sets import promote

    presets = promote(Path(args.staging), CHECKPOINTS_DIR)
    print(f"checkpoints/ now holds the new set: {', '.join(presets)}. Update the README tables "
          f"(`python -m engine report`) and commit it all in one commit.")


# ---------------------------------------------------------------- export / eval / translate
def export(run_dir: Path, out: Path, command: str) -> None:
    """Export a run to a shipped checkpoint and say what was shipped."""
    from engine.shipping.export import export_run

    meta = export_run(run_dir, out, command)
    if "averaging" in meta:
        a = meta["averaging"]
        print(f"averaging {len(a['snapshots'])} snapshots: valid loss {a['valid_loss_averaged']:.4f} vs best "
              f"{a['valid_loss_best']:.4f}; shipping the {a['shipped']} weights")
    print(f"exported {meta['exported_from']} -> {out}")


def evaluate_checkpoint(path: Path, split: str, beam: int, length_penalty: float = 1.0,
                        corpus: str | None = None) -> dict:
    """Score a checkpoint on a split and print the headline figures."""
    from engine.evaluation.scoring import evaluate_checkpoint as evaluate

    result = evaluate(path, split, beam, length_penalty, corpus)
    print(f"{path.name} on {result['corpus']} {split}: BLEU {result['bleu']}  chrF {result['chrf']}  "
          f"TER {result['ter']}  ppl {result['perplexity']}")
    return result


def cmd_decode_sweep(args) -> None:
    """`decode-sweep`: beam sizes x length penalties on valid splits -> results/decode-sweep.json."""
    from engine.evaluation.metrics import decoding_sweep
    from engine.inference.translate import Translator

    settings = [(1, 1.0)] + [(b, lp) for b in args.beams if b > 1 for lp in args.length_penalties]
    report = {"command": command_line(), "split": "valid", "sentences": args.sentences, "settings": settings,
              "models": {}}
    out = Path(args.out)
    if args.update and out.exists():  # keep the other models' rows if they were swept the same way
        earlier = json.loads(out.read_text(encoding="utf-8"))
        if earlier["settings"] == [list(s) for s in settings] and earlier.get("sentences", 400) == args.sentences:
            report["models"] = earlier["models"]
            report["earlier_rows_from"] = earlier.get("earlier_rows_from") or earlier["command"]
    for name in args.checkpoints or SHIPPED:
        translator = Translator.load(CHECKPOINTS_DIR / name if "/" not in name else Path(name))
        for corpus in args.corpora:
            pairs = corpora.load_split(corpus, "valid", translator.meta["direction"])[: args.sentences]
            rows = decoding_sweep(translator, pairs, settings)
            report["models"].setdefault(translator.name, {})[corpus] = rows
            best = max(rows, key=lambda r: r["chrf"])
            print(f"{translator.name} {corpus} valid ({len(pairs)}): best chrF {best['chrf']} at beam {best['beam']}, "
                  f"length penalty {best['length_penalty']} (greedy {rows[0]['chrf']})", flush=True)
            atomic_write_json(out, report)


def cmd_presets(args) -> None:
    """`presets`: run the Playground's presets as the page does -> results/playground-presets.json."""
    from engine.experiments.bench import machine
    from engine.experiments.toy import PRESETS, check_preset

    report = {"command": command_line(), "machine": machine(), "runs": []}
    for name in args.names or list(PRESETS):
        for seed in args.seeds:
            row = check_preset(name, seed)
            report["runs"].append(row)
            print(f"{name} seed {seed}: first shown after {row['first_shown_after_s']} s of {row['wall_seconds']} s; "
                  f"{row['figures'] or row['accuracy']}", flush=True)
            atomic_write_json(Path(args.out), report)


def cmd_gradients(args) -> None:
    """`gradients`: the Lab's after-training gradient experiment -> results/gradients-after-training.json."""
    from engine.experiments.bench import machine
    from engine.experiments.lab import gradient_after_training

    result = gradient_after_training(length=args.length, steps=args.steps, seed=args.seed)
    atomic_write_json(Path(args.out), {"command": command_line(), "machine": machine(), "length": args.length,
                                       "steps": args.steps, "seed": args.seed, "models": result})
    for label, row in result.items():
        print(f"{label}: {row['accuracy']:.0%} right; gradient at position 0 {row['gradient'][0]:.2e}, at the last "
              f"position {row['gradient'][-1]:.2e}", flush=True)


def cmd_eval(args) -> None:
    """`eval CHECKPOINT`."""
    evaluate_checkpoint(Path(args.checkpoint).resolve(), args.split, args.beam, args.length_penalty, args.corpus)


def cmd_export(args) -> None:
    """`export RUN_DIR OUT`."""
    export(Path(args.run_dir), Path(args.out), command_line())


def cmd_translate(args) -> None:
    """`translate CHECKPOINT [SENTENCES]` (or one sentence per line on stdin)."""
    from engine.inference.hf_interop import load_translator
    from engine.inference.translate import InputError, prepare_input

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
    """`export-hf CHECKPOINT OUT`: our Transformer as a transformers Pegasus directory."""
    from engine.inference.hf_interop import export_transformer

    out = export_transformer(Path(args.checkpoint), Path(args.out))
    print(f"wrote {out} (load it with transformers.AutoModelForSeq2SeqLM.from_pretrained, or drop it into hf-models/)")


def cmd_report(args) -> None:
    """Markdown tables of the shipped checkpoints' eval.json and eval-<corpus>.json files (the README tables)."""
    files = sorted(Path(args.dir).glob("*/eval*.json"))
    if not files:
        sys.exit(f"no */eval.json under {args.dir}")
    by_corpus: dict[str, list[dict]] = {}
    for path in files:
        e = json.loads(path.read_text())
        if e.get("split", "test") == "test":
            by_corpus.setdefault(e["corpus"], []).append(e)
    for corpus, evals in by_corpus.items():
        long = [e for e in evals if e.get("long_sentences")]
        print(f"\n**{corpus} test** ({evals[0]['sentences']:,} sentences)\n")
        long_header = (f" BLEU / chrF, ≥ {long[0]['long_sentences']['min_words']} words "
                       f"({long[0]['long_sentences']['sentences']} sentences) |") if long else ""
        print("| model | BLEU | chrF | TER | test ppl |" + long_header + " parameters | training minutes |")
        print("|---|---|---|---|---|" + ("---|" if long else "") + "---|---|")
        for e in sorted(evals, key=lambda e: -e["chrf"]):
            ls = e.get("long_sentences")
            print(f"| {e['checkpoint']} | {e['bleu']} | {e['chrf']} | {e['ter']} | {e['perplexity']} |"
                  + (f" {ls['bleu']} / {ls['chrf']} |" if long and ls else " – |" if long else "")
                  + f" {e['parameters'] / 1e6:.2f}M | {e['train_minutes']} |")
    first = json.loads(files[0].read_text())
    print(f"\nBLEU signature: `{first['bleu_signature']}`; chrF: `{first['chrf_signature']}`; "
          f"TER: `{first['ter_signature']}`; decoding: beam {first['decoding']['beam']}, "
          f"length penalty {first['decoding']['length_penalty']}.")


def cmd_arena(args) -> None:
    """`arena report` / `arena export FILE`: the votes in the database SEQ2SEQ_ARENA_DB names."""
    from .arena import ratings
    from .arena.store import Arena

    arena = Arena()
    votes = arena.votes()
    if args.action == "export":
        if not args.file:
            sys.exit("error: arena export needs a file name, e.g. votes.jsonl")
        with open(args.file, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(v, ensure_ascii=False) + "\n" for v in votes)
        print(f"wrote {len(votes)} votes to {args.file}")
        return
    board = ratings.leaderboard(votes)
    if not board:
        print(f"no votes yet in {arena.url}")
        return
    print(f"{len(votes)} votes in {arena.url}\n")
    print("| model | rating | 95 % interval | votes | wins / ties / losses |\n|---|---|---|---|---|")
    for r in board:
        print(f"| {r['model']} | {r['rating']} | {r['low']}–{r['high']} | {r['votes']} | "
              f"{r['wins']} / {r['ties']} / {r['losses']} |")
    chrf = ratings.chrf_ranking(CHECKPOINTS_DIR, [r["model"] for r in board])
    if (tau := ratings.kendall_tau([r["model"] for r in board], chrf)) is not None:
        print(f"\nAgreement with the ranking by ding-en-de test chrF ({', '.join(chrf)}): Kendall's tau {tau:.2f}")


def cmd_int8_check(args) -> None:
    """`int8-check`: test chrF/BLEU with the int8 output layer against fp32 -> results/int8-check.json (the dashboard
    offers int8 for the checkpoints that passed)."""
    from engine.evaluation.int8_check import CHECK_FILE, MAX_DROP, check_checkpoint, still_valid_rows
    from engine.experiments.bench import machine

    out = Path(args.out) if args.out else CHECK_FILE
    report = {"command": command_line(), "machine": machine(), "split": "test", "max_drop": MAX_DROP,
              "decoding": {"beam": args.beam, "length_penalty": args.length_penalty}, "models": {}}
    names = args.checkpoints or SHIPPED
    if args.update and out.exists():
        earlier = json.loads(out.read_text(encoding="utf-8"))
        others = {p.name: p for p in CHECKPOINTS_DIR.iterdir() if p.name not in {Path(n).name for n in names}}
        report["models"] = still_valid_rows(earlier, report["decoding"], others)
        if report["models"]:
            report["earlier_rows_from"] = earlier.get("earlier_rows_from") or earlier.get("command")
    for name in names:
        path = CHECKPOINTS_DIR / name if "/" not in name else Path(name)
        row = report["models"][path.name] = check_checkpoint(path, args.corpora, args.beam, args.length_penalty)
        for corpus, c in row["corpora"].items():
            print(f"{path.name} {corpus} test: chrF {c['fp32']['chrf']} -> {c['int8']['chrf']}, BLEU "
                  f"{c['fp32']['bleu']} -> {c['int8']['bleu']}, {c['outputs_changed']} of {c['sentences']} outputs "
                  f"changed: {'passed' if c['passed'] else 'not offered'}", flush=True)
        atomic_write_json(out, report)


def cmd_bench(args) -> None:
    """`bench`: the speed suite, saved as results/bench-<machine>.json."""
    from tqdm import tqdm

    from engine.experiments.bench import run_suite

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
    print_serving(result["serving"])
    print(f"saved {out}")


def print_serving(rows: list[dict]) -> None:
    for row in rows:
        print(f"serve  {row['sessions']:>2} visitors x {row['models']} models, "
              f"{'batched' if row['batched'] else 'one by one'}: p50 {row['p50_s']:.2f} s, p95 {row['p95_s']:.2f} s, "
              f"{row['sentences_per_s']:.1f} sentences/s, same outputs as alone: {row['outputs_identical']}")


def cmd_serve_load(args) -> None:
    """`serve-load`: the server-side load generator alone (the bench's serving curve), printed."""
    from engine.experiments.bench import serving_curve

    print_serving(serving_curve(tuple(args.sessions)))


# ---------------------------------------------------------------- parser
def add_training_options(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (but the preset), with the field's help; unset flags keep its default."""
    from engine.training.trainer import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        if f.name == "preset":
            continue
        kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
        extras = {k: v for k, v in f.metadata.items() if k != "help"}
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f.metadata["help"])
        else:
            p.add_argument(flag, type=json.loads if kind is dict else kind, default=None, help=f.metadata["help"],
                           **extras)


def build_parser() -> argparse.ArgumentParser:
    """The `python -m engine` argument parser with every subcommand."""
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
    p.add_argument("--length-penalty", type=float, default=SERVING_LENGTH_PENALTY,
                   help="length penalty of the test evaluation (chosen on valid: results/decode-sweep.json)")
    add_training_options(p)
    p.set_defaults(func=cmd_train_all)

    p = sub.add_parser("train-set", help="train a shipped set in pieces: the models not yet staged in STAGING, "
                                         "exported and scored one by one, recorded in STAGING/SET.json")
    p.add_argument("staging", help="staging folder, e.g. checkpoints/next")
    p.add_argument("--presets", nargs="*", choices=list(PRESETS), help=f"the set (default: {' '.join(SHIPPED)})")
    p.add_argument("--count", type=int, help="train at most this many models now (a piece of work)")
    p.add_argument("--first", nargs="+", choices=list(PRESETS), metavar="PRESET",
                   help="train these of the set's models before the others (a piece that fits the time left)")
    p.add_argument("--runs-dir", help="where the runs train (default: runs/sets/<staging folder's name>)")
    p.add_argument("--beam", type=int, help="beam size of the test evaluation (default: 5, or the set's)")
    p.add_argument("--length-penalty", type=float, help=f"length penalty of the test evaluation (default: "
                   f"{SERVING_LENGTH_PENALTY}, chosen on valid in results/decode-sweep.json, or the set's)")
    add_training_options(p)
    p.set_defaults(func=cmd_train_set)

    p = sub.add_parser("promote-set", help="replace the shipped set in checkpoints/ with a complete staged set")
    p.add_argument("staging", help="staging folder, e.g. checkpoints/next")
    p.set_defaults(func=cmd_promote_set)

    p = sub.add_parser("eval", help="sacrebleu BLEU/chrF/TER, scores by length, perplexity -> CHECKPOINT/eval.json "
                                    "(eval-<corpus>.json for --corpus, eval-valid.json for --split valid)")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="test", choices=list(corpora.SPLITS))
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--length-penalty", type=float, default=SERVING_LENGTH_PENALTY,
                   help="chosen on valid: results/decode-sweep.json")
    p.add_argument("--corpus", choices=list(corpora.CORPORA), help="another corpus of the same direction "
                                                                   "(writes eval-<corpus>.json)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("decode-sweep", help="choose beam size and length penalty on valid splits "
                                            "-> results/decode-sweep.json")
    p.add_argument("checkpoints", nargs="*", help=f"names under checkpoints/ or paths (default: {' '.join(SHIPPED)})")
    p.add_argument("--beams", type=int, nargs="+", default=[5])
    p.add_argument("--length-penalties", type=float, nargs="+", default=[0.6, 1.0, 1.4])
    p.add_argument("--corpora", nargs="+", default=["ding-en-de"], choices=list(corpora.CORPORA))
    p.add_argument("--sentences", type=int, default=400, help="first N pairs of each valid split")
    p.add_argument("--out", default=str(RESULTS_DIR / "decode-sweep.json"))
    p.add_argument("--update", action="store_true", help="keep the file's rows for other models swept with the same "
                                                         "settings (to finish an interrupted sweep)")
    p.set_defaults(func=cmd_decode_sweep)

    p = sub.add_parser("presets", help="run the Playground's presets as the page does, timing when each claim shows "
                                       "-> results/playground-presets.json")
    p.add_argument("names", nargs="*", help="preset names (default: all)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default=str(RESULTS_DIR / "playground-presets.json"))
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("gradients", help="train a plain RNN, two LSTMs and a GRU on a memory task, then measure "
                                         "the gradient reaching each input position "
                                         "-> results/gradients-after-training.json")
    p.add_argument("--length", type=int, default=30, help="letters per input; the task: write the first two")
    p.add_argument("--steps", type=int, default=600, help="training steps per model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS_DIR / "gradients-after-training.json"), help="the Lab shows this file")
    p.set_defaults(func=cmd_gradients)

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

    p = sub.add_parser("serve-load", help="N visitors translating at once through every shipped model, batched and "
                                          "not: latency per visitor (no browser)")
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10, 20, 30])
    p.set_defaults(func=cmd_serve_load)

    p = sub.add_parser("int8-check", help="test chrF/BLEU with an int8 output layer vs fp32 -> "
                                          "results/int8-check.json (int8 is offered where both fall < 0.3)")
    p.add_argument("checkpoints", nargs="*", help="names under checkpoints/ or paths (default: the shipped set)")
    p.add_argument("--corpora", nargs="+", default=["ding-en-de", "bible-en-de"])
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--length-penalty", type=float, default=SERVING_LENGTH_PENALTY)
    p.add_argument("--out", help="output JSON path (default: results/int8-check.json)")
    p.add_argument("--update", action="store_true", help="keep the file's other rows whose weights and decoding "
                                                         "settings are unchanged; check only the named checkpoints")
    p.set_defaults(func=cmd_int8_check)

    p = sub.add_parser("arena", help="the arena's votes (SEQ2SEQ_ARENA_DB): the leaderboard, or every vote as JSON "
                                     "lines")
    p.add_argument("action", choices=["report", "export"])
    p.add_argument("file", nargs="?", help="export: the JSON-lines file to write")
    p.set_defaults(func=cmd_arena)

    p = sub.add_parser("report", help="markdown table of checkpoints/*/eval.json")
    p.add_argument("--dir", default=str(CHECKPOINTS_DIR))
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run one command; expected errors become a one-line message and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CheckpointError, corpora.CorpusError, ValueError) as exc:
        sys.exit(f"error: {exc}")
