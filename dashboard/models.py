"""Finding and loading translators and the files the CLI wrote about them (cached, shared by all sessions)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from engine.checkpoint import CheckpointError, read_json
from engine.translate import Translator

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS_DIR = ROOT / "checkpoints"
RUNS_DIR = ROOT / "runs" / "dashboard"  # models trained from the browser
RESULTS_DIR = ROOT / "results"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path  # checkpoint directory
    metrics: Path  # metrics.jsonl of its training run
    shipped: bool


def list_models() -> list[ModelEntry]:
    """Shipped checkpoints first, then finished browser-trained runs."""
    entries = [ModelEntry(p.name, p, p / "metrics.jsonl", True)
               for p in sorted(CHECKPOINTS_DIR.glob("*")) if (p / "config.json").is_file()]
    entries += [ModelEntry(p.name, p / "best", p / "metrics.jsonl", False)
                for p in sorted(RUNS_DIR.glob("*")) if (p / "best" / "config.json").is_file()]
    return entries


@st.cache_resource(show_spinner=False, max_entries=32)
def _load(path: str, mtime: float) -> Translator:
    return Translator.load(Path(path))


def load_translator(entry: ModelEntry) -> Translator:
    """The process-wide translator of a checkpoint (reloaded when its files change). Never mutate it."""
    return _load(str(entry.path), (entry.path / "model.safetensors").stat().st_mtime)


def load_translators(entries: list[ModelEntry]) -> tuple[dict[str, Translator], dict[str, str]]:
    """(name -> translator, name -> error message) so one broken file never hides the other models."""
    loaded, errors = {}, {}
    for entry in entries:
        try:
            loaded[entry.name] = load_translator(entry)
        except (CheckpointError, OSError) as exc:
            errors[entry.name] = str(exc)
    return loaded, errors


def model_meta(entry: ModelEntry) -> dict:
    try:
        return read_json(entry.path / "config.json").get("meta", {})
    except CheckpointError:
        return {}


@st.cache_data(show_spinner=False, max_entries=64)
def _read_json(path: str, mtime: float):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_eval(entry: ModelEntry) -> dict | None:
    path = entry.path / "eval.json"
    if not path.is_file():
        return None
    try:
        return _read_json(str(path), path.stat().st_mtime)
    except (OSError, ValueError):
        return None


@st.cache_data(show_spinner=False, max_entries=64)
def _read_jsonl(path: str, mtime: float) -> list[dict]:
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line being written right now
    return records


def load_metrics(path: Path) -> list[dict]:
    return _read_jsonl(str(path), path.stat().st_mtime) if path.is_file() else []


def bench_files() -> list[Path]:
    return sorted(RESULTS_DIR.glob("bench-*.json"))


def load_bench(path: Path) -> dict:
    return _read_json(str(path), path.stat().st_mtime)
