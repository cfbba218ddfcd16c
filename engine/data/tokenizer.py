"""Joint subword (BPE) tokenizer for source and target, trained with Hugging Face `tokenizers`.

Saved as `tokenizer.json`; `load_tokenizer` returns a transformers PreTrainedTokenizerFast.
"""
from __future__ import annotations

from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]  # ids 0, 1, 2, 3
PAD_ID, BOS_ID, EOS_ID = range(3)  # then <unk> (id 3), then the learned subwords


def train_tokenizer(texts: list[str], vocab_size: int = 8000, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train a SentencePiece-style BPE (Metaspace word boundaries) so decoding gives normal text."""
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKC(),
        normalizers.Replace("’", "'"),
        normalizers.Replace("‘", "'"),
        normalizers.Replace("“", '"'),
        normalizers.Replace("”", '"'),
        normalizers.Replace(Regex(r"\s+"), " "),
        normalizers.Strip(),
    ])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS,
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return wrap(tok)


def wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    """A tokenizers.Tokenizer as a transformers PreTrainedTokenizerFast with our special tokens."""
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK)


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, path: Path) -> None:
    """Write tokenizer.json."""
    tokenizer.backend_tokenizer.save(str(path))


def load_tokenizer(path: Path) -> PreTrainedTokenizerFast:
    """Read a tokenizer.json written by save_tokenizer."""
    return wrap(Tokenizer.from_file(str(path)))


def encode(tokenizer: PreTrainedTokenizerFast, texts: list[str], add_eos: bool = True) -> list[list[int]]:
    """Token ids per text (no BOS; EOS appended)."""
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [seq + [EOS_ID] if add_eos else seq for seq in ids]


def decode(tokenizer: PreTrainedTokenizerFast, ids: list[int]) -> str:
    """Text of token ids, special tokens dropped."""
    return tokenizer.decode(ids, skip_special_tokens=True).strip()
