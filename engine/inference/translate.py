"""One interface for every family: `Translator.translate(sentences) -> [Translation]`."""
from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.data.batching import pad_batch
from engine.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, decode, encode
from engine.inference.decoding import beam_search, greedy_decode
from engine.messages import Message
from engine.models import Seq2Seq
from engine.models.checkpoint import load_checkpoint

MAX_SOURCE_TOKENS = 200  # longer inputs are truncated (Translation.truncated says so)
MAX_INPUT_CHARS = 2000  # longer text is cut by prepare_input, with a notice
SPACES = {"Zs", "Zl", "Zp"}  # Unicode spaces and line/paragraph separators
DROPPED = {"Cc", "Cf", "Cs", "Co", "Cn"}  # control, format, surrogate, private-use, unassigned


class InputError(ValueError):
    """User text that cannot be translated; the message (an engine.messages.Message) is meant for the user."""

    def __init__(self, message: Message):
        super().__init__(message)
        self.message = message


def prepare_input(text: str) -> tuple[str, Message | None]:
    """Printable single-spaced text and a notice when something was removed or cut. Raises InputError if nothing
    is left.

    Every kind of space or line break becomes one plain space; control, format (zero-width, direction marks),
    private-use and unassigned characters are dropped; text past MAX_INPUT_CHARS is cut.
    """
    if not isinstance(text, str):
        raise InputError(Message("Type a sentence to translate."))
    breaks = "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85"
    spaced = "".join(" " if unicodedata.category(ch) in SPACES or ch in breaks else ch for ch in text)
    kept = "".join(ch for ch in spaced if unicodedata.category(ch) not in DROPPED)
    removed = len(kept) != len(spaced)
    cleaned = " ".join(kept.split())
    notice = Message("Invisible or control characters were removed.") if removed else None
    if len(cleaned) > MAX_INPUT_CHARS:
        notice = Message("Your text has {count:,} characters; only the first {kept:,} were translated.",
                         count=len(cleaned), kept=MAX_INPUT_CHARS)
        cleaned = cleaned[:MAX_INPUT_CHARS].rstrip()
    if not cleaned:
        raise InputError(Message("Type a sentence to translate. Only invisible or control characters were given.")
                         if removed else Message("Type a sentence to translate."))
    return cleaned, notice


def chinese_share(text: str) -> float:
    """The share of the text's letters that are Chinese characters (CJK ideographs): the models here read only
    English and German, so text mostly in Chinese gets a message instead of a translation."""
    letters = [ch for ch in text if ch.isalpha()]
    han = sum(unicodedata.name(ch, "").startswith("CJK ") for ch in letters)
    return han / len(letters) if letters else 0.0


def clip_source(ids: list[int]) -> list[int]:
    """Source ids cut to MAX_SOURCE_TOKENS, still ending in EOS."""
    return ids[: MAX_SOURCE_TOKENS - 1] + [EOS_ID] if len(ids) > MAX_SOURCE_TOKENS else ids


@dataclass
class Translation:
    """One model's translation of one sentence, with what the dashboard shows beside it."""
    text: str
    tokens: list[str]  # target subwords, EOS excluded
    source_tokens: list[str]  # source subwords as the model saw them, EOS included
    ms: float  # wall time of the batch this sentence was decoded in, divided by the batch size
    attention: np.ndarray | None = None  # [layers, heads, target, source] cross-attention, when asked for
    truncated: bool = False


class Translator:
    """A model and its tokenizer behind one call: sentences in, `Translation`s out."""

    def __init__(self, model: Seq2Seq, tokenizer, meta: dict | None = None, name: str = "model"):
        self.model, self.tokenizer, self.meta, self.name = model.eval(), tokenizer, meta or {}, name

    @classmethod
    def load(cls, path: Path, device: str = "cpu", int8: bool = False) -> Translator:
        """The checkpoint at `path`; int8: its output layer in int8 (CPU only, engine/models/int8.py)."""
        model, _, tokenizer, meta = load_checkpoint(path, device)
        if int8:
            model.use_int8_output()
        return cls(model, tokenizer, meta, name=Path(path).name)

    @property
    def int8(self) -> bool:
        return getattr(self.model, "int8_output", None) is not None  # transformers' models have no such attribute

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def has_attention(self) -> bool:
        return self.model.has_attention

    def translate(self, sentences: list[str], beam: int = 1, length_penalty: float = 1.0, max_len_ratio: float = 2.0,
                  batch_size: int = 32, with_attention: bool = False) -> list[Translation]:
        """Translations of the sentences, in batches of `batch_size`."""
        results: list[Translation] = []
        for start in range(0, len(sentences), batch_size):
            results += self._translate_batch(sentences[start : start + batch_size], beam, length_penalty, max_len_ratio,
                                             with_attention)
        return results

    def _translate_batch(self, sentences, beam, length_penalty, max_len_ratio, with_attention):
        ids = encode(self.tokenizer, list(sentences))
        truncated = [len(s) > MAX_SOURCE_TOKENS for s in ids]
        ids = [clip_source(s) for s in ids]
        start = time.perf_counter()
        src = pad_batch(ids, self.device)
        if beam > 1:
            outputs = beam_search(self.model, src, beam, length_penalty, max_len_ratio)
        else:
            outputs = greedy_decode(self.model, src, max_len_ratio)
        ms = (time.perf_counter() - start) * 1000 / len(sentences)
        attention = self._attention(src, outputs) if with_attention and self.has_attention else [None] * len(outputs)
        return [
            Translation(text=decode(self.tokenizer, out), tokens=self.tokenizer.convert_ids_to_tokens(out),
                        source_tokens=self.tokenizer.convert_ids_to_tokens(src_ids), ms=ms, attention=att,
                        truncated=cut)
            for out, src_ids, att, cut in zip(outputs, ids, attention, truncated)
        ]

    @torch.inference_mode()
    def _attention(self, src: torch.Tensor, outputs: list[list[int]]) -> list[np.ndarray]:
        """Cross-attention of each output over its source, by a teacher-forced pass over the decoded tokens."""
        tgt_in = pad_batch([[BOS_ID] + out for out in outputs], self.device)
        weights = self.model.cross_attention(src, tgt_in).float().cpu().numpy()  # [L, H, B, T, S]
        src_lengths = (src != PAD_ID).sum(1).tolist()
        return [weights[:, :, i, : len(out) + 1, : src_lengths[i]] for i, out in enumerate(outputs)]
