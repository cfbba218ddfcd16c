"""Transformer encoder-decoder (Vaswani et al. 2017), pre-norm, with tied embeddings and a key/value cache.

Written here rather than with nn.Transformer so it can return attention weights. Without positional
encodings (`positional="none"`) the encoder is permutation-equivariant: a bag of words.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..tokenizer import PAD_ID
from .base import Seq2Seq, source_mask

POSITIONALS = ("sinusoidal", "learned", "none")


@dataclass
class TransformerConfig:
    """Sizes and regularisation of the Transformer."""
    vocab_size: int = 8000
    d_model: int = 256
    heads: int = 4
    ffn: int = 512  # small feed-forward and high dropout: the low-resource recipe (Araabi & Monz 2020)
    encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.3  # on embeddings and residual branches
    attention_dropout: float = 0.1  # on attention weights (0 keeps SDPA on its fused kernel: faster, worse here)
    activation_dropout: float = 0.1  # inside the feed-forward
    positional: str = "sinusoidal"
    max_len: int = 512

    def __post_init__(self):
        if self.positional not in POSITIONALS:
            raise ValueError(f"positional must be one of {POSITIONALS}, not {self.positional!r}")
        if self.d_model % self.heads:
            raise ValueError("d_model must be divisible by heads")


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """[max_len, d_model] sine/cosine position codes (Vaswani et al. 2017)."""
    position = torch.arange(max_len).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


class PositionalEncoding(nn.Module):
    """Adds sinusoidal or learned position vectors (or nothing: a bag of words)."""
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.kind = cfg.positional
        if self.kind == "learned":
            self.table = nn.Embedding(cfg.max_len, cfg.d_model)
            nn.init.normal_(self.table.weight, std=0.02)
        elif self.kind == "sinusoidal":
            self.register_buffer("table", sinusoidal_table(cfg.max_len, cfg.d_model), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        if self.kind == "none":
            return x
        positions = torch.arange(offset, offset + x.shape[1], device=x.device)
        table = self.table(positions) if self.kind == "learned" else self.table[positions]
        return x + table


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, T, D] -> [B, heads, T, D/heads]."""
    return x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


def merge_heads(y: torch.Tensor) -> torch.Tensor:
    """[B, heads, T, D/heads] -> [B, T, D]."""
    return y.transpose(1, 2).flatten(2)


def attend(q, k, v, mask, dropout: float, need_weights: bool = False, causal: bool = False):
    """Scaled dot-product attention. q [B, h, T, d]; k, v [B, h, S, d]; mask broadcastable to [B, h, T, S],
    True = may attend, or None; causal: position i attends to j <= i. Returns (y [B, h, T, d], weights or None)."""
    if not need_weights:  # the fused kernel
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal), None
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # [B, h, T, S]
    if causal:
        mask = subsequent_mask(q.shape[2], q.device)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1)
    return F.dropout(weights, dropout) @ v, weights


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused query/key/value projection."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x, mask=None, past=None, causal=False, need_weights=False):
        """x [B, T, D]; past: (k, v) [B, h, P, d] of earlier steps or None.
        Returns (output [B, T, D], weights or None, (k, v) [B, h, P+T, d])."""
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(x).chunk(3, -1))  # each [B, h, T, d]
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        y, weights = attend(q, k, v, mask, self.dropout if self.training else 0.0, need_weights, causal)
        return self.out(merge_heads(y)), weights, (k, v)


class CrossAttention(nn.Module):
    """Multi-head attention of the decoder (queries) over the encoder's memory (keys and values)."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def keys_values(self, memory):
        """memory [B, S, D] -> k, v [B, h, S, d]: computed once per sentence batch, reused at every step."""
        k, v = self.kv(memory).chunk(2, -1)
        return split_heads(k, self.heads), split_heads(v, self.heads)

    def forward(self, x, k, v, mask, need_weights=False):
        """x [B, T, D]; k, v [B, h, S, d]; mask [B, 1, 1, S] or None -> (output [B, T, D], weights or None)."""
        q = split_heads(self.q(x), self.heads)  # [B, h, T, d]
        y, weights = attend(q, k, v, mask, self.dropout if self.training else 0.0, need_weights)
        return self.out(merge_heads(y)), weights


class FeedForward(nn.Module):
    """Position-wise up-projection, ReLU, down-projection."""
    def __init__(self, d_model: int, ffn: int, dropout: float):
        super().__init__()
        self.up, self.down = nn.Linear(d_model, ffn), nn.Linear(ffn, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):  # [B, T, D] -> [B, T, ffn] -> [B, T, D]
        return self.down(self.drop(F.relu(self.up(x))))


class EncoderLayer(nn.Module):
    """Pre-norm self-attention and feed-forward, each around a residual connection."""
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg.d_model, cfg.heads, cfg.attention_dropout)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn, cfg.activation_dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, mask, need_weights=False):  # x [B, S, D]
        y, weights, _ = self.attn(self.norm1(x), mask, need_weights=need_weights)
        x = x + self.drop(y)
        return x + self.drop(self.ffn(self.norm2(x))), weights


class DecoderLayer(nn.Module):
    """Pre-norm causal self-attention, cross-attention and feed-forward, with a key/value cache."""
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.self_attn = SelfAttention(cfg.d_model, cfg.heads, cfg.attention_dropout)
        self.cross_attn = CrossAttention(cfg.d_model, cfg.heads, cfg.attention_dropout)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn, cfg.activation_dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, cache, self_mask, src_mask, need_weights=False):
        """x [B, T, D]; cache: {"k", "v"} of earlier steps (if any) and {"ck", "cv"} of the source.
        self_mask: "causal" (a whole target at once), None (one new token), or an explicit mask."""
        causal = isinstance(self_mask, str)
        past = (cache["k"], cache["v"]) if "k" in cache else None
        y, self_weights, (k, v) = self.self_attn(self.norm1(x), None if causal else self_mask, past, causal,
                                                 need_weights)
        x = x + self.drop(y)
        y, cross_weights = self.cross_attn(self.norm2(x), cache["ck"], cache["cv"], src_mask, need_weights)
        x = x + self.drop(y)
        x = x + self.drop(self.ffn(self.norm3(x)))
        return x, {**cache, "k": k, "v": v}, (self_weights, cross_weights)


def subsequent_mask(size: int, device=None) -> torch.Tensor:
    """[size, size] boolean mask, True where position i may attend to j (j <= i)."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


class TransformerSeq2Seq(Seq2Seq):
    """Encoder-decoder Transformer with tied embeddings and incremental decoding."""
    family = "transformer"
    tiny = {"d_model": 32, "heads": 2, "ffn": 64, "encoder_layers": 2, "decoder_layers": 2, "dropout": 0.0,
            "attention_dropout": 0.0, "activation_dropout": 0.0}
    recipe = {"lr": 2e-3, "warmup_steps": 300}  # results/quality-runs.md

    @classmethod
    def probe_overrides(cls, hidden: int) -> dict:
        return {"d_model": hidden, "heads": 4, "ffn": 4 * hidden, "encoder_layers": 2, "decoder_layers": 2,
                "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0}

    def sequential_steps(self, length: int) -> int:
        return self.cfg.encoder_layers + self.cfg.decoder_layers  # each layer handles all positions at once

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=PAD_ID)
        nn.init.normal_(self.embed.weight, std=cfg.d_model ** -0.5)
        self.position = PositionalEncoding(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder_layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.decoder_layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self._output_cache = None  # (weight identity, transposed embedding) for inference

    def _embed(self, tokens, offset=0):
        return self.drop(self.position(self.embed(tokens) * math.sqrt(self.cfg.d_model), offset))

    @staticmethod
    def key_mask(src_mask: torch.Tensor) -> torch.Tensor | None:
        """[B, 1, 1, S] padding mask for attention over the source; None when nothing is padded (faster kernels)."""
        return None if bool(src_mask.all()) else src_mask[:, None, None, :]

    def encode(self, src):
        src_mask = source_mask(src)  # [B, S]
        mask = self.key_mask(src_mask)
        x = self._embed(src)  # [B, S, D]
        for layer in self.encoder_layers:
            x, _ = layer(x, mask)
        return {"src_mask": src_mask, "memory": self.encoder_norm(x)}  # memory [B, S, D]

    def init_state(self, enc):
        caches = [dict(zip(("ck", "cv"), layer.cross_attn.keys_values(enc["memory"]))) for layer in self.decoder_layers]
        return {"caches": caches, "length": torch.zeros(enc["memory"].shape[0], dtype=torch.long),
                "key_mask": self.key_mask(enc["src_mask"])}  # decided once per sentence batch, not per step

    def _run(self, tgt_in, state, enc, need_weights=False):
        """Decoder over tgt_in [B, T] after `state`'s earlier tokens: (logits [B, T, V], new state, per layer
        (self-attention, cross-attention) weights or Nones)."""
        offset = int(state["length"][0]) if state["length"].numel() else 0
        t = tgt_in.shape[1]
        if t == 1:
            self_mask = None  # one new token may see every earlier one
        elif offset == 0:
            self_mask = "causal"
        else:
            self_mask = subsequent_mask(offset + t, tgt_in.device)[offset:]
        x, caches, weights = self._embed(tgt_in, offset), [], []
        for layer, cache in zip(self.decoder_layers, state["caches"]):
            x, cache, w = layer(x, cache, self_mask, state["key_mask"], need_weights)
            caches.append(cache)
            weights.append(w)
        logits = self.output_logits(self.decoder_norm(x))
        return logits, {**state, "caches": caches, "length": state["length"] + t}, weights

    def output_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Scores over the vocabulary with the tied embedding. Without gradients, multiply by a cached transposed
        copy: at batch 1 that reads the 8000 x 256 matrix in its fast layout (decode steps ~30 % faster here)."""
        weight = self.embed.weight
        if torch.is_grad_enabled():
            return F.linear(h, weight)
        key = (weight.data_ptr(), None if weight.is_inference() else weight._version, weight.dtype, weight.device)
        cached = self._output_cache
        if cached is None or cached[0] != key:
            cached = self._output_cache = (key, weight.detach().t().contiguous())
        return h @ cached[1]

    def decode(self, tgt_in, enc):
        return self._run(tgt_in, self.init_state(enc), enc)[0]

    def step(self, prev, state, enc):
        logits, state, _ = self._run(prev.unsqueeze(1), state, enc)
        return logits[:, 0], state

    def cross_attention(self, src, tgt_in):
        enc = self.encode(src)
        _, _, weights = self._run(tgt_in, self.init_state(enc), enc, need_weights=True)
        return torch.stack([cross for _, cross in weights]).transpose(1, 2)  # [L, B, h, T, S] -> [L, h, B, T, S]
