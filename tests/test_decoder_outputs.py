"""The shipped checkpoints decode exactly as recorded: speed work on the decoders must not change a single token.

The record (`tests/data/decoder-outputs.json`) holds token ids from greedy and beam search, batched (with padding) and
one sentence at a time, for every shipped model, on one thread. After the shipped models are retrained, write it again
with `python -m tests.test_decoder_outputs` (before changing any decoder).
"""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
import torch

from engine.data.batching import pad_batch
from engine.data.tokenizer import encode
from engine.inference.decoding import SERVING_LENGTH_PENALTY, beam_search, greedy_decode
from engine.inference.translate import Translator, clip_source
from engine.paths import CHECKPOINTS_DIR, DATA_DIR, SHIPPED

RECORD = Path(__file__).parent / "data" / "decoder-outputs.json"


def sentences() -> list[str]:
    """Short everyday sentences and long verses from the test splits."""
    def first(corpus, n):
        with gzip.open(DATA_DIR / corpus / "test.tsv.gz", "rt") as f:
            return [next(f).split("\t")[0] for _ in range(n)]
    return first("ding-en-de", 12) + first("bible-en-de", 4)


def fingerprint(checkpoint: Path) -> str:
    return hashlib.sha256((checkpoint / "model.safetensors").read_bytes()).hexdigest()[:16]


def decode_all(checkpoint: Path) -> dict:
    translator = Translator.load(checkpoint)
    model, ids = translator.model, [clip_source(s) for s in encode(translator.tokenizer, sentences())]
    src, alone = pad_batch(ids, translator.device), [pad_batch([i], translator.device) for i in ids[:4]]  # padded
    return {
        "greedy": greedy_decode(model, src),
        "beam5": beam_search(model, src, 5, SERVING_LENGTH_PENALTY),
        "greedy, one at a time": [greedy_decode(model, one)[0] for one in alone],
        "beam5, one at a time": [beam_search(model, one, 5, SERVING_LENGTH_PENALTY)[0] for one in alone],
    }


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_decode_as_recorded(name):
    record = json.loads(RECORD.read_text())[name]
    assert record["checkpoint"] == fingerprint(CHECKPOINTS_DIR / name), (
        f"checkpoints/{name} changed since the record was written: write it again with "
        "`python -m tests.test_decoder_outputs` using the decoder the record was made with")
    got = decode_all(CHECKPOINTS_DIR / name)
    for mode, outputs in record["outputs"].items():
        assert got[mode] == outputs, f"{name}, {mode}: tokens differ from the record"


if __name__ == "__main__":
    torch.set_num_threads(1)  # as in the tests (conftest): thread counts change float sums, and so near-ties in beams
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps({
        name: {"checkpoint": fingerprint(CHECKPOINTS_DIR / name), "outputs": decode_all(CHECKPOINTS_DIR / name)}
        for name in SHIPPED}) + "\n")
    print("wrote", RECORD)
