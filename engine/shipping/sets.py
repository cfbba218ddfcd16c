"""A shipped set trained in pieces: a staging folder of finished, exported models and its manifest, SET.json.

`python -m engine train-set checkpoints/next ...` trains the set's models that are not staged yet, one whole run
each, exports and scores each one, and records it in the manifest; a piece of work can stop after any model.
`python -m engine promote-set checkpoints/next` then replaces the shipped set with the staged one, as a whole.
The models of one set must be trained alike, so the manifest refuses a model whose budget, data mix, seed,
tokenizer or recipe differs from the set's, and says which.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from engine.data.mix import parse_mix
from engine.messages import Message
from engine.models import model_spec
from engine.models.checkpoint import atomic_write_json, read_json
from engine.paths import ROOT, shown
from engine.training.trainer import TrainConfig, with_family_recipe

MANIFEST = "SET.json"
MACHINE_SETTINGS = ("preset", "threads", "device")  # may differ between the models of a set
SETTING_NAMES = {"max_train_tokens": "budget (--max-train-tokens)", "mix": "data mix (--mix)",
                 "seed": "seed (--seed)", "vocab_size": "tokenizer vocabulary (--vocab-size)"}


class SetMismatch(ValueError):
    """This command would train a model unlike the set's other models."""


def shared_settings(cfg: TrainConfig) -> dict:
    """The training settings every model of a set shares (all but the preset and the machine's)."""
    return {k: v for k, v in asdict(cfg).items() if k not in MACHINE_SETTINGS}


def recipe(cfg: TrainConfig) -> dict:
    """A preset's recipe as the code defines it now: its learning rate, warm-up and model configuration."""
    cfg = with_family_recipe(cfg)
    spec = model_spec(cfg.preset, cfg.vocab_size, cfg.size, **cfg.model_overrides)
    return {"lr": cfg.lr, "warmup_steps": cfg.warmup_steps, "model": spec["config"]}


def test_corpora(cfg: TrainConfig) -> list[str]:
    """The corpora whose test splits score each model: its own and every other one in its mix."""
    return list(dict.fromkeys([cfg.corpus] + [s.corpus for s in parse_mix(cfg.mix or cfg.corpus)]))


def plan(cfg: TrainConfig, presets: list[str], beam: int, length_penalty: float) -> dict:
    """A new set's manifest: what every model will share, and each preset's recipe."""
    return json.loads(json.dumps({  # as the file will read back
        "presets": list(presets),
        "settings": shared_settings(cfg),
        "decoding": {"beam": beam, "length_penalty": length_penalty},
        "recipes": {p: recipe(replace(cfg, preset=p)) for p in presets},
        "tokenizer_sha256": None,  # set by the first model
        "started": {"at": now(), "code_commit": code_commit()},
        "models": {},
    }))


def read_manifest(staging: Path) -> dict | None:
    path = Path(staging) / MANIFEST
    return read_json(path) if path.is_file() else None


def check(manifest: dict, planned: dict) -> None:
    """Raise SetMismatch naming the first field in which `planned` differs from the set's manifest."""
    def differs(what: str, old, new) -> SetMismatch:
        return SetMismatch(f"the set in progress has {what} {old!r}; this command asks for {new!r}. Every model of a "
                           f"set is trained alike: use the set's value, or stage a new set in another folder")

    for key, new in planned["settings"].items():
        if manifest["settings"].get(key) != new:
            raise differs(SETTING_NAMES.get(key, key.replace("_", " ")), manifest["settings"].get(key), new)
    if manifest["decoding"] != planned["decoding"]:
        raise differs("decoding", manifest["decoding"], planned["decoding"])
    if sorted(manifest["presets"]) != sorted(planned["presets"]):
        raise differs("presets", manifest["presets"], planned["presets"])
    for preset, recipe_now in planned["recipes"].items():
        old, new = flat(manifest["recipes"][preset]), flat(recipe_now)
        for key in sorted(old.keys() | new.keys()):
            if old.get(key) != new.get(key):
                raise differs(f"{preset}'s recipe, {key},", old.get(key), new.get(key))


def flat(recipe: dict) -> dict:
    """{"lr": …, "model.dropout": …}: one level, so that a difference names its field."""
    out = {}
    for key, value in recipe.items():
        out.update({f"{key}.{k}": v for k, v in value.items()} if isinstance(value, dict) else {key: value})
    return out


def check_tokenizer(manifest: dict, tokenizer) -> str:
    """The tokenizer's digest; SetMismatch if the set's models were trained with another tokenizer."""
    digest = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()
    if manifest["tokenizer_sha256"] not in (None, digest):
        raise SetMismatch(f"the tokenizer this run learned (sha256 {digest[:12]}) differs from the set's "
                          f"({manifest['tokenizer_sha256'][:12]}): the data or the tokenizer code changed since "
                          f"the set began")
    return digest


def is_staged(staging: Path, manifest: dict, preset: str) -> bool:
    """Exported, scored on every test split and recorded: a finished piece of the set."""
    folder = Path(staging) / preset
    cfg = TrainConfig(preset=preset, **manifest["settings"])
    files = ["config.json", "model.safetensors", "tokenizer.json", "eval.json"] + \
        [f"eval-{c}.json" for c in test_corpora(cfg)[1:]]
    return preset in manifest["models"] and all((folder / f).is_file() for f in files)


def missing(staging: Path, manifest: dict) -> list[str]:
    return [p for p in manifest["presets"] if not is_staged(staging, manifest, p)]


def train_set(staging: Path, cfg: TrainConfig, presets: list[str], beam: int, length_penalty: float,
              runs_dir: Path, command: str, count: int | None = None, say=print,
              first: tuple[str, ...] = ()) -> list[str]:
    """Train, export and score the set's models not yet staged (at most `count` of them, those in `first` before the
    others: a piece that fits the time left); returns those staged."""
    from engine.evaluation.scoring import evaluate_checkpoint
    from engine.shipping.export import export_run
    from engine.training.trainer import Trainer

    staging = Path(staging)
    planned = plan(cfg, presets, beam, length_penalty)
    manifest = read_manifest(staging)
    if manifest is None:
        manifest = planned
        staging.mkdir(parents=True, exist_ok=True)
        atomic_write_json(staging / MANIFEST, manifest)
    check(manifest, planned)
    todo = missing(staging, manifest)
    if strangers := [p for p in first if p not in manifest["presets"]]:
        raise SetMismatch(f"{', '.join(strangers)} {'is' if len(strangers) == 1 else 'are'} not in the set "
                          f"({', '.join(manifest['presets'])})")
    todo = [p for p in first if p in todo] + [p for p in todo if p not in first]
    done = [p for p in manifest["presets"] if p not in todo]
    if done:
        say(f"already staged in {shown(staging)}: {', '.join(done)}")
    if lost := [p for p in todo if p in manifest["models"]]:  # the manifest describes only what is on disk
        say(f"{shown(staging / MANIFEST)} records {', '.join(lost)}, but the exported files are missing (never "
            f"committed?): dropped from the manifest, to be trained again")
        for preset in lost:
            del manifest["models"][preset]
        atomic_write_json(staging / MANIFEST, manifest)
    for preset in todo[:count]:
        started = time.perf_counter()
        run_dir = runs_dir / preset
        trainer = Trainer(replace(cfg, preset=preset), run_dir, on_record=progress_printer(preset, say))
        try:
            digest = check_tokenizer(manifest, trainer.tokenizer)
            state = trainer.train()
        finally:
            trainer.close()
        if state.finished == "interrupted":
            raise KeyboardInterrupt
        export_run(run_dir, staging / preset, command)
        for corpus in test_corpora(cfg):
            result = evaluate_checkpoint(staging / preset, "test", beam, length_penalty, corpus)
            say(f"{preset} on {corpus} test: BLEU {result['bleu']}, chrF {result['chrf']}")
        manifest["tokenizer_sha256"] = digest
        manifest["models"][preset] = machine_record(state, trainer.device, started, command)
        atomic_write_json(staging / MANIFEST, manifest)
        say(f"staged {preset} in {shown(staging / preset)} ({manifest['models'][preset]['wall_minutes']} min); "
            f"commit the model with its record now: git add {shown(staging / preset)} {shown(staging / MANIFEST)}")
    left = missing(staging, manifest)
    say(f"{len(manifest['presets']) - len(left)} of {len(manifest['presets'])} models staged"
        + (f"; still to train: {', '.join(left)}" if left else f"; promote with `python -m engine promote-set "
                                                                 f"{shown(staging)}`"))
    return [p for p in manifest["presets"] if p not in left]


def progress_printer(preset: str, say):
    def on_record(record: dict) -> None:
        if record["kind"] == "eval":
            scores = ", ".join(f"{k[6:]} {v}" for k, v in record.items() if k.startswith("valid_chrf"))
            say(f"{preset}: {record['tokens_seen']:,} tokens, valid loss {record['valid_loss']}, {scores}")
    return on_record


def machine_record(state, device, started: float, command: str) -> dict:
    """What trained one staged model, and how long it took."""
    import torch

    return {"cpu": cpu_name(), "cores": os.cpu_count(),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "tokens_seen": state.tokens_seen, "train_minutes": round(state.train_seconds / 60, 1),
            "wall_minutes": round((time.perf_counter() - started) / 60, 1),  # validation, export and test scoring too
            "tokens_per_s": round(state.tokens_seen / max(state.train_seconds, 1e-9)),
            "finished_at": now(), "code_commit": code_commit(), "command": command}


def promote(staging: Path, shipped: Path) -> list[str]:
    """Replace every model in `shipped` (and its SET.json) with the complete staged set; returns its presets.
    Tracked files move with `git mv`, so the history holds each weight file once."""
    staging, shipped = Path(staging), Path(shipped)
    manifest = read_manifest(staging)
    if manifest is None:
        raise ValueError(f"{shown(staging)} holds no {MANIFEST}: nothing is staged there")
    if left := missing(staging, manifest):
        raise ValueError(f"the set in {shown(staging)} is incomplete: {', '.join(left)} not staged yet "
                         f"({len(manifest['presets']) - len(left)} of {len(manifest['presets'])} done)")
    old = [p for p in sorted(shipped.iterdir()) if (p / "config.json").is_file() or p.name == MANIFEST]
    for path in old:
        remove(path)
    for name in manifest["presets"] + [MANIFEST]:
        move(staging / name, shipped / name)
    if not any(staging.iterdir()):
        staging.rmdir()
    return manifest["presets"]


def git(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """git in the repository that holds `folder` (if any)."""
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)


def tracked(path: Path) -> bool:
    return git(path.parent, "ls-files", "--error-unmatch", "--", path.name).returncode == 0


def remove(path: Path) -> None:
    if tracked(path):
        git(path.parent, "rm", "-r", "-q", "-f", "--", path.name)
    if path.is_dir():
        shutil.rmtree(path)  # untracked leftovers
    elif path.exists():
        path.unlink()


def move(source: Path, target: Path) -> None:
    if not (tracked(source) and git(source.parent, "mv", "--", source.name, str(target.resolve())).returncode == 0):
        shutil.move(source, target)


def code_commit() -> str:
    """HEAD's commit, marked when the working tree has uncommitted changes."""
    head = git(ROOT, "rev-parse", "--short=12", "HEAD")
    if head.returncode != 0:
        return "unknown"
    dirty = git(ROOT, "status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + (" with uncommitted changes" if dirty else "")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def summary(checkpoints: Path) -> dict | None:
    """What a set of checkpoints was trained with: from its SET.json (named as "source"), or from each model's own
    config.json for a set shipped before manifests existed (source None). None when there is no engine checkpoint."""
    checkpoints = Path(checkpoints)
    manifest = read_manifest(checkpoints)
    if manifest:
        models = manifest["models"].values()
        return {"budget_tokens": manifest["settings"]["max_train_tokens"], "mix": manifest["settings"]["mix"],
                "machines": sorted({machine_words(m) for m in models}), "models": len(manifest["models"]),
                "train_minutes": round(sum(m["train_minutes"] for m in models), 1),
                "source": shown(checkpoints / MANIFEST)}
    metas = [read_json(p / "config.json").get("meta", {}) for p in sorted(checkpoints.iterdir())
             if (p / "config.json").is_file()]
    if not metas:
        return None
    budgets = {m.get("train_config", {}).get("max_train_tokens") for m in metas}
    return {"budget_tokens": budgets.pop() if len(budgets) == 1 else None,
            "mix": metas[0].get("train_config", {}).get("mix"),
            "machines": sorted({machine_words({"device": m.get("device", "cpu"), "threads": m.get("threads"),
                                               "torch": m.get("torch")}) for m in metas}),
            "models": len(metas), "train_minutes": round(sum(m.get("train_minutes", 0) for m in metas), 1),
            "source": None}


def machine_words(m: dict) -> Message:
    """'AMD EPYC 9R14 (2 cores), 2 threads, torch 2.13.0+cpu', or the GPU's name."""
    if m.get("device", "cpu") != "cpu":
        return Message("{device}, {threads} threads, torch {torch}", device=m["device"], threads=m.get("threads"),
                       torch=m.get("torch"))
    if m.get("cpu"):
        return Message("{cpu} ({cores} cores), {threads} threads, torch {torch}", cpu=m["cpu"], cores=m["cores"],
                       threads=m.get("threads"), torch=m.get("torch"))
    return Message("a CPU (its model was not recorded), {threads} threads, torch {torch}", threads=m.get("threads"),
                   torch=m.get("torch"))
