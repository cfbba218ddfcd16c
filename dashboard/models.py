"""Finding and loading translators and the files the CLI wrote about them (cached, shared by all sessions)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dashboard.i18n import t
from dashboard.jobs import MAX_RUNS, MAX_RUNS_MB, NAME_PATTERN, evicted_names
from engine.evaluation import int8_check
from engine.inference.hf_interop import is_hub_id, is_transformers_dir
from engine.inference.hf_interop import load_translator as open_translator
from engine.inference.translate import Translator
from engine.models import PRESETS, model_class
from engine.models.checkpoint import CheckpointError, read_json
from engine.paths import CHECKPOINTS_DIR, HF_MODELS_DIR, RESULTS_DIR
from engine.paths import DASHBOARD_RUNS_DIR as RUNS_DIR  # models trained from the browser
from engine.shipping import sets
from engine.training import metrics_log


@dataclass(frozen=True)
class ModelEntry:
    """A model the dashboard can show: its name and where its files are."""
    name: str
    path: Path  # checkpoint directory
    metrics: Path  # metrics.jsonl of its training run
    shipped: bool
    transformers: bool = False  # a local Hugging Face directory rather than an engine checkpoint
    staged: bool = False  # a model of a next set, still being staged (not shipped yet)


def list_models(runs: Iterable[str] = ()) -> list[ModelEntry]:
    """Shipped checkpoints first, then the browser-trained `runs` that have weights (a visitor sees their own:
    `visible_runs()`), then local Hugging Face models."""
    entries = [ModelEntry(p.name, p, p / "metrics.jsonl", True)
               for p in sorted(CHECKPOINTS_DIR.glob("*")) if (p / "config.json").is_file()]
    entries += [ModelEntry(name, RUNS_DIR / name / "best", RUNS_DIR / name / "metrics.jsonl", False)
                for name in runs
                if NAME_PATTERN.fullmatch(name) and (RUNS_DIR / name / "best" / "config.json").is_file()]
    entries += [ModelEntry(p.name, p, p / "metrics.jsonl", False, transformers=True) for p in transformers_dirs()]
    entries += [ModelEntry(i, Path(i), Path(i) / "metrics.jsonl", False, transformers=True) for i in hub_ids()]
    return entries


def staged_models() -> list[ModelEntry]:
    """Models of a set still being staged (`python -m engine train-set checkpoints/<folder>`), labelled as such."""
    entries = []
    for manifest_path in sorted(CHECKPOINTS_DIR.glob(f"*/{sets.MANIFEST}")):
        manifest = read_json(manifest_path)
        label = t("next set") if set(manifest["models"]) == set(manifest["presets"]) else t("next set, incomplete")
        folders = [manifest_path.parent / p for p in manifest["models"]]
        entries += [ModelEntry(t("{name} ({label})", name=f.name, label=label), f, f / "metrics.jsonl", False,
                               staged=True)
                    for f in folders if (f / "config.json").is_file()]
    return entries


def visible_runs() -> list[str]:
    """The browser-trained runs this visitor sees: those this session started and those a link names
    (`?runs=a,b`). Others' runs stay off their pages."""
    linked = st.query_params.get("runs", "").split(",")
    return [n for n in dict.fromkeys(st.session_state.get("my_runs", []) + linked) if NAME_PATTERN.fullmatch(n)]


def remember_run(name: str) -> None:
    """This session started `name`: show it on this visitor's pages."""
    st.session_state["my_runs"] = list(dict.fromkeys(st.session_state.get("my_runs", []) + [name]))


def missing_runs_notice(names: list[str]) -> str | None:
    """A sentence for runs this visitor expects that are gone (evicted to make room, or never existed)."""
    gone = [n for n in names if not (RUNS_DIR / n).is_dir()]
    if not gone:
        return None
    evicted = evicted_names(RUNS_DIR)
    made_room = [n for n in gone if n in evicted]
    parts = []
    if made_room:
        removed = t("{names} was removed to make room: ", names=made_room[0]) if len(made_room) == 1 else \
            t("{names} were removed to make room: ", names=", ".join(made_room))
        parts.append(removed + t("this server keeps the {count} newest browser-trained models ({megabytes:g} MB at "
                                 "most).", count=MAX_RUNS, megabytes=MAX_RUNS_MB))
    if unknown := [n for n in gone if n not in evicted]:
        parts.append(t("There is no model called {names} on this server.", names=", ".join(unknown)))
    return " ".join(parts)


def hub_ids() -> list[str]:
    """Hugging Face Hub ids listed in SEQ2SEQ_HF_MODELS (e.g. Helsinki-NLP/opus-mt-en-de), loaded by name."""
    listed = os.environ.get("SEQ2SEQ_HF_MODELS", "").split(os.pathsep)
    return list(dict.fromkeys(i.strip() for i in listed if is_hub_id(i.strip())))


def transformers_dirs() -> list[Path]:
    """Model directories under hf-models/ and in SEQ2SEQ_HF_MODELS (each a model, or a folder of models)."""
    roots = [HF_MODELS_DIR] + [Path(p) for p in os.environ.get("SEQ2SEQ_HF_MODELS", "").split(os.pathsep) if p]
    found = []
    for root in roots:
        candidates = [root] if is_transformers_dir(root) else sorted(root.glob("*")) if root.is_dir() else []
        found += [p for p in candidates if is_transformers_dir(p)]
    return found


@st.cache_resource(show_spinner=False, max_entries=32)
def _load(source: str, mtime: float, int8: bool) -> Translator:
    return Translator.load(Path(source), int8=True) if int8 else open_translator(source)


def _weights_mtime(entry: ModelEntry) -> float:
    weights = [entry.path / "config.json", entry.path / "model.safetensors"]
    return max((f.stat().st_mtime for f in weights if f.is_file()), default=0.0)


def load_translator(entry: ModelEntry, int8: bool = False) -> Translator:
    """The process-wide translator of a checkpoint (reloaded when its files change), with its output layer in int8
    if asked. Never mutate it."""
    return _load(str(entry.path), _weights_mtime(entry), int8)


def load_translators(entries: list[ModelEntry], int8: Iterable[str] = ()) -> tuple[dict[str, Translator],
                                                                                    dict[str, str]]:
    """(name -> translator, name -> error message) so one broken file never hides the other models; the models
    named in `int8` get the int8 output layer."""
    loaded, errors = {}, {}
    for entry in entries:
        try:
            loaded[entry.name] = load_translator(entry, entry.name in int8)
        except (CheckpointError, OSError) as exc:
            errors[entry.name] = str(exc)
    return loaded, errors


@st.cache_data(show_spinner=False, max_entries=8)
def _int8_passed(check_file: str, mtime: float, checkpoints: tuple[tuple[str, str, float], ...]) -> set[str]:
    try:
        check = json.loads(Path(check_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return int8_check.passed_checkpoints(check, {name: Path(path) for name, path, _ in checkpoints})


def int8_offered(entries: list[ModelEntry]) -> set[str]:
    """Names of the engine checkpoints among `entries` whose present weights passed `python -m engine int8-check`
    (results/int8-check.json): the int8 output layer is offered for these only."""
    check_file = int8_check.CHECK_FILE
    if not check_file.is_file():
        return set()
    checkpoints = tuple((e.name, str(e.path), _weights_mtime(e)) for e in entries if not e.transformers)
    return _int8_passed(str(check_file), check_file.stat().st_mtime, checkpoints)


def _config(entry: ModelEntry) -> dict:
    """The checkpoint's config.json, or {} when unreadable."""
    try:
        config = read_json(entry.path / "config.json")
    except CheckpointError:
        return {}
    return config if isinstance(config, dict) else {}


def is_recurrent(entry: ModelEntry) -> bool | None:
    """Whether the model reads its source one token after another, as its model class says (a Hugging Face
    directory: no, those are Transformers); None when its config.json names no known preset."""
    if entry.transformers:
        return False
    model = _config(entry).get("model")
    preset = model.get("preset") if isinstance(model, dict) else None
    return model_class(preset).recurrent if preset in PRESETS else None


def model_meta(entry: ModelEntry) -> dict:
    """What the checkpoint says about itself (corpus, direction, …); {} when unknown."""
    meta = _config(entry).get("arena" if entry.transformers else "meta")
    return meta if isinstance(meta, dict) else {}


@st.cache_data(show_spinner=False, max_entries=64)
def _read_json(path: str, mtime: float):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_eval(entry: ModelEntry, corpus: str | None = None) -> dict | None:
    """The model's eval.json (its own corpus), or eval-<corpus>.json for another corpus; None if absent."""
    path = entry.path / "eval.json"
    if corpus and corpus != (load_eval(entry) or {}).get("corpus"):
        path = entry.path / f"eval-{corpus}.json"
    if not path.is_file():
        return None
    try:
        return _read_json(str(path), path.stat().st_mtime)
    except (OSError, ValueError):
        return None


@st.cache_data(show_spinner=False, max_entries=64)
def _read_jsonl(path: str, mtime: float) -> list[dict]:
    return metrics_log.read(Path(path))


def load_metrics(path: Path) -> list[dict]:
    """A run's metrics.jsonl records (cached until the file changes)."""
    return _read_jsonl(str(path), path.stat().st_mtime) if path.is_file() else []


def bench_files() -> list[Path]:
    """The bench result files under results/, the most recently measured first (files without a date last)."""
    by_name = sorted(RESULTS_DIR.glob("bench-*.json"))
    return sorted(by_name, key=lambda p: load_json(p).get("measured_on", ""), reverse=True)


def load_json(path: Path) -> dict:
    """A JSON file the CLI wrote (cached until it changes)."""
    return _read_json(str(path), path.stat().st_mtime)
