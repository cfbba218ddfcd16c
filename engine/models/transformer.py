"""Transformer encoder-decoder (Vaswani et al. 2017), post-norm or pre-norm, with tied embeddings and a key/value cache.

Written here rather than with nn.Transformer so it can return attention weights. Without positional
encodings (`positional="none"`) the encoder is permutation-equivariant: a bag of words.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.data.tokenizer import PAD_ID
from engine.models.base import Seq2Seq, TransposedWeights, source_mask

POSITIONALS = ("sinusoidal", "learned", "none")


@dataclass
class TransformerConfig:
    """Sizes and regularisation of the Transformer."""
    vocab_size: int = 8000
    d_model: int = 256
    heads: int = 4
    ffn: int = 512  # small feed-forward (Araabi & Monz 2020)
    encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.1  # on embeddings and residual branches; 0.3 learned slower at our budgets (quality-runs.md)
    attention_dropout: float = 0.1  # on attention weights (0 keeps SDPA on its fused kernel: faster, worse here)
    activation_dropout: float = 0.1  # inside the feed-forward
    positional: str = "sinusoidal"
    max_len: int = 512
    norm_first: bool = False  # post-norm as in Vaswani et al. and Marian: learned faster here (quality-runs.md, R2)

    # fields older checkpoints lack, with the value those checkpoints were trained with
    legacy_defaults = {"norm_first": True}

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
        table = self.table.weight if self.kind == "learned" else self.table  # [max_len, D]
        return x + table[offset : offset + x.shape[1]]


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

    def forward(self, x, mask=None, causal=False, need_weights=False):
        """x [B, T, D] -> (output [B, T, D], weights or None)."""
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(x).chunk(3, -1))  # each [B, h, T, d]
        y, weights = attend(q, k, v, mask, self.dropout if self.training else 0.0, need_weights, causal)
        return self.out(merge_heads(y)), weights


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


def residual(x: torch.Tensor, norm: nn.LayerNorm, sublayer, norm_first: bool, drop=None):
    """A sublayer around a residual connection: x + sublayer(norm(x)) (pre-norm) or norm(x + sublayer(x)) (post-norm).
    sublayer returns (output, extra); returns (new x, extra)."""
    drop = drop or (lambda y: y)
    if norm_first:
        y, extra = sublayer(norm(x))
        return x + drop(y), extra
    y, extra = sublayer(x)
    return norm(x + drop(y)), extra


class EncoderLayer(nn.Module):
    """Self-attention and feed-forward, each around a residual connection."""
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.norm_first = cfg.norm_first
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg.d_model, cfg.heads, cfg.attention_dropout)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn, cfg.activation_dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, mask, need_weights=False):  # x [B, S, D]
        x, weights = residual(x, self.norm1, lambda h: self.attn(h, mask, need_weights=need_weights),
                              self.norm_first, self.drop)
        x, _ = residual(x, self.norm2, lambda h: (self.ffn(h), None), self.norm_first, self.drop)
        return x, weights


STEP_LINEARS = {"qkv": "self_attn.qkv", "self_out": "self_attn.out", "q": "cross_attn.q", "cross_out": "cross_attn.out",
                "up": "ffn.up", "down": "ffn.down"}  # a decoder layer's Linear layers, by their names in StepWeights


class StepWeights:
    """The decoder's Linear weights as [in, out] matrices with their biases, and the output embedding as [D, V], for
    incremental decoding (see `TransposedWeights`); gathered once per decoding call. An object, not a dict, so that
    beam search's row selection passes it by."""

    def __init__(self, model: TransformerSeq2Seq):
        transposed = model.transposed
        self.layers = [{name: (transposed(layer.get_submodule(path).weight), layer.get_submodule(path).bias)
                        for name, path in STEP_LINEARS.items()} for layer in model.decoder_layers]
        output = transposed(model.embed.weight)  # [D, V]
        self.project = (lambda h: h @ output) if model.int8_output is None else model.int8_output  # [B, D] -> [B, V]


def affine(x: torch.Tensor, weight_bias) -> torch.Tensor:
    """x [B, in] @ W [in, out] + b -> [B, out]."""
    weight, bias = weight_bias
    return torch.addmm(bias, x, weight)


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention and feed-forward, each around a residual connection."""
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.norm_first = cfg.norm_first
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.self_attn = SelfAttention(cfg.d_model, cfg.heads, cfg.attention_dropout)
        self.cross_attn = CrossAttention(cfg.d_model, cfg.heads, cfg.attention_dropout)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn, cfg.activation_dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, memory_kv, src_mask, need_weights=False):
        """A whole target at once: x [B, T, D]; memory_kv: cross-attention keys and values [B, h, S, d]."""
        first = self.norm_first
        x, self_weights = residual(x, self.norm1, lambda h: self.self_attn(h, causal=True, need_weights=need_weights),
                                   first, self.drop)
        x, cross_weights = residual(x, self.norm2, lambda h: self.cross_attn(h, *memory_kv, src_mask, need_weights),
                                    first, self.drop)
        x, _ = residual(x, self.norm3, lambda h: (self.ffn(h), None), first, self.drop)
        return x, (self_weights, cross_weights)

    def step(self, x, w: dict, cache, t: int, memory_kv, src_mask):
        """The same computation for one new position t per row (inference: no dropout), against the keys and values
        of earlier positions. x [B, D]; w: this layer's `StepWeights`; cache [2, B, h, capacity, d]: keys and values,
        this position's written in place at t."""
        b, h, first = x.shape[0], self.self_attn.heads, self.norm_first

        def self_attention(x):  # [B, D] -> [B, D]
            qkv = affine(x, w["qkv"]).view(b, 3, h, 1, -1)  # q, k, v: [B, 3, h, 1, d]
            cache[:, :, :, t : t + 1] = qkv[:, 1:].transpose(0, 1)
            keys, values = cache[:, :, :, : t + 1]  # [B, h, t+1, d] each
            y = F.scaled_dot_product_attention(qkv[:, 0], keys, values)  # [B, h, 1, d]
            return affine(y.view(b, -1), w["self_out"]), None

        def cross_attention(x):  # [B, D] -> [B, D]
            q = affine(x, w["q"]).view(b, h, 1, -1)  # [B, h, 1, d]
            y = F.scaled_dot_product_attention(q, *memory_kv, attn_mask=src_mask)  # [B, h, 1, d]
            return affine(y.view(b, -1), w["cross_out"]), None

        def feed_forward(x):  # [B, D] -> [B, ffn] -> [B, D]
            return affine(torch.relu(affine(x, w["up"])), w["down"]), None

        x, _ = residual(x, self.norm1, self_attention, first)
        x, _ = residual(x, self.norm2, cross_attention, first)
        return residual(x, self.norm3, feed_forward, first)[0]  # [B, D]


def subsequent_mask(size: int, device=None) -> torch.Tensor:
    """[size, size] boolean mask, True where position i may attend to j (j <= i)."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


class TransformerSeq2Seq(Seq2Seq):
    """Encoder-decoder Transformer with tied embeddings and incremental decoding."""
    family = "transformer"
    tiny = {"d_model": 32, "heads": 2, "ffn": 64, "encoder_layers": 2, "decoder_layers": 2, "dropout": 0.0,
            "attention_dropout": 0.0, "activation_dropout": 0.0}
    recipe = {"lr": 1e-3, "warmup_steps": 600}  # results/quality-runs.md, R2

    @classmethod
    def probe_overrides(cls, hidden: int) -> dict:
        return {"d_model": hidden, "heads": 4, "ffn": 4 * hidden, "encoder_layers": 2, "decoder_layers": 2,
                "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0,
                "norm_first": True}  # pre-norm: the residual path straight from output to input

    def transformers_architecture(self) -> str:
        """Pre-norm maps onto Pegasus, post-norm onto Marian (which always adds sinusoidal positions)."""
        if self.cfg.norm_first:
            return "PegasusForConditionalGeneration"
        if self.cfg.positional != "sinusoidal":
            positions = "no positions" if self.cfg.positional == "none" else f"{self.cfg.positional} positions"
            raise ValueError(f"a post-norm Transformer with {positions} has no transformers twin (Marian, the "
                             "post-norm one, always adds its own sinusoidal positions)")
        return "MarianMTModel"

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
        # pre-norm needs a last norm after each stack; post-norm layers end with one (Marian's layout: none extra)
        final_norm = (lambda: nn.LayerNorm(cfg.d_model)) if cfg.norm_first else nn.Identity
        self.encoder_norm, self.decoder_norm = final_norm(), final_norm()
        self.transposed = TransposedWeights()  # for decoding

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
        """Cross-attention keys/values of the source (computed once per layer), and one buffer for the keys and values
        of the tokens written so far: [layers, 2, B, h, capacity, d], grown by doubling."""
        memory, d = enc["memory"], self.cfg.d_model // self.cfg.heads
        cache = memory.new_empty((len(self.decoder_layers), 2, memory.shape[0], self.cfg.heads, 32, d))
        return {"memory_kv": [layer.cross_attn.keys_values(memory) for layer in self.decoder_layers], "cache": cache,
                "spare": None, "length": 0, "key_mask": self.key_mask(enc["src_mask"]), "weights": StepWeights(self)}

    def step(self, prev, state, enc):
        """Writes this step's keys and values into the state's buffer: step from a given state once."""
        t, cache, spare = state["length"], state["cache"], state["spare"]
        if t == cache.shape[4]:  # full: double it
            cache, spare = torch.cat([cache, torch.empty_like(cache)], 4), None
        weights = state["weights"]
        x = self._embed(prev.unsqueeze(1), t)[:, 0]  # [B, D]
        for layer, w, layer_cache, memory_kv in zip(self.decoder_layers, weights.layers, cache, state["memory_kv"]):
            x = layer.step(x, w, layer_cache, t, memory_kv, state["key_mask"])
        logits = weights.project(self.decoder_norm(x))  # [B, V]
        return logits, {**state, "cache": cache, "spare": spare, "length": t + 1}

    def select(self, state, index):
        """Beam reordering of the written positions, copied into a spare buffer that the next call reuses (so a step
        allocates nothing). The source side stays: beam search moves rows only among one sentence's beams, which share
        their source (it never reorders `enc` either)."""
        t, cache, spare = state["length"], state["cache"], state["spare"]
        shape = (*cache.shape[:2], len(index), *cache.shape[3:])
        if spare is None or spare.shape != shape:
            spare = cache.new_empty(shape)
        torch.index_select(cache[..., :t, :], 2, index, out=spare[..., :t, :])  # [layers, 2, B', h, t, d]
        return {**state, "cache": spare, "spare": cache}

    def _decoder(self, tgt_in, enc, need_weights=False):
        """Teacher-forced decoder over tgt_in [B, T]: (logits [B, T, V], per layer (self, cross) attention weights)."""
        x, mask, weights = self._embed(tgt_in), self.key_mask(enc["src_mask"]), []
        for layer in self.decoder_layers:
            x, w = layer(x, layer.cross_attn.keys_values(enc["memory"]), mask, need_weights)
            weights.append(w)
        x = self.decoder_norm(x)  # [B, T, D]
        logits = F.linear(x, self.embed.weight) if self.int8_output is None else self.int8_output(x)  # [B, T, V]
        return logits, weights

    def decode(self, tgt_in, enc):
        return self._decoder(tgt_in, enc)[0]

    def output_layer(self):
        return self.embed.weight

    def cross_attention(self, src, tgt_in):
        enc = self.encode(src)
        weights = self._decoder(tgt_in, enc, need_weights=True)[1]
        return torch.stack([cross for _, cross in weights]).transpose(1, 2)  # [L, B, h, T, S] -> [L, h, B, T, S]
