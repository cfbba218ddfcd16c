"""Recurrent encoder-decoders: RNN (tanh/ReLU), LSTM or GRU cells, with no, additive or multiplicative attention.

- `none`: Sutskever-style; the encoder's final state is all the decoder sees of the source.
- `luong` (multiplicative, "general" score, Luong et al. 2015): attention reads the decoder's output, so under
  teacher forcing the whole decoder RNN runs as one fused call and attention is one batched matmul.
- `bahdanau` (additive, Bahdanau et al. 2015): attention reads the previous decoder state and its context feeds
  the next RNN input, so the decoder must loop over time steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from engine.data.tokenizer import PAD_ID
from engine.models.base import Seq2Seq, TransposedWeights, source_mask

CELLS = ("rnn-tanh", "rnn-relu", "lstm", "gru")
ATTENTIONS = ("none", "bahdanau", "luong")


@dataclass
class RecurrentConfig:
    """Sizes and kind of a recurrent encoder-decoder."""
    vocab_size: int = 8000
    cell: str = "gru"
    attention: str = "luong"
    emb_dim: int = 256
    hidden: int = 256
    layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.1  # 0.3 learned slower at our token budgets (results/quality-runs.md)

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, not {self.cell!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {self.attention!r}")


def make_rnn(cell: str, input_size: int, hidden: int, layers: int, dropout: float,
             bidirectional: bool = False) -> nn.RNNBase:
    """A fused torch RNN/LSTM/GRU with orthogonal recurrent weights and zero biases."""
    kwargs = dict(num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0,
                  bidirectional=bidirectional)
    if cell == "lstm":
        rnn = nn.LSTM(input_size, hidden, **kwargs)
    elif cell == "gru":
        rnn = nn.GRU(input_size, hidden, **kwargs)
    else:
        rnn = nn.RNN(input_size, hidden, nonlinearity=cell.split("-")[1], **kwargs)
    for name, weight in rnn.named_parameters():
        if name.startswith("weight_hh"):  # orthogonal recurrent weights: a good initialisation for long chains
            for gate in weight.data.chunk(weight.shape[0] // hidden):
                nn.init.orthogonal_(gate)
        elif name.startswith("bias"):
            nn.init.zeros_(weight)
    return rnn


class AdditiveAttention(nn.Module):
    """score(q, k) = v . tanh(W_q q + W_k k)  (Bahdanau)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.key = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, 1, bias=False)

    def precompute(self, memory: torch.Tensor) -> torch.Tensor:
        return self.key(memory)

    def forward(self, query, memory, keys, mask):  # query [B, T, H]; memory, keys [B, S, H]; mask [B, S]
        scores = self.v(torch.tanh(self.query(query).unsqueeze(2) + keys.unsqueeze(1))).squeeze(-1)
        weights = scores.masked_fill(~mask.unsqueeze(1), float("-inf")).softmax(-1)
        return weights @ memory, weights


class MultiplicativeAttention(nn.Module):
    """score(q, k) = q . W k  (Luong "general")."""

    def __init__(self, hidden: int):
        super().__init__()
        self.key = nn.Linear(hidden, hidden, bias=False)

    def precompute(self, memory: torch.Tensor) -> torch.Tensor:
        return self.key(memory)

    def forward(self, query, memory, keys, mask):
        scores = query @ keys.transpose(1, 2)
        weights = scores.masked_fill(~mask.unsqueeze(1), float("-inf")).softmax(-1)
        return weights @ memory, weights


class RecurrentSeq2Seq(Seq2Seq):
    """A (bi)directional recurrent encoder and a recurrent decoder, with or without attention."""
    family = "recurrent"
    recurrent = True
    tiny = {"emb_dim": 32, "hidden": 32, "layers": 1, "dropout": 0.0}
    recipe = {"lr": 3e-3, "warmup_steps": 100}

    @classmethod
    def probe_overrides(cls, hidden: int) -> dict:
        return {"emb_dim": hidden, "hidden": hidden, "layers": 1, "dropout": 0.0, "bidirectional": False,
                "attention": "none"}

    @property
    def has_attention(self) -> bool:
        return self.cfg.attention != "none"

    def sequential_steps(self, length: int) -> int:
        return 2 * self.cfg.layers * length  # every encoder and decoder layer is a chain of `length` steps

    def __init__(self, cfg: RecurrentConfig):
        super().__init__()
        self.cfg = cfg
        h, dirs = cfg.hidden, 2 if cfg.bidirectional else 1
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=PAD_ID)
        nn.init.normal_(self.embed.weight, std=cfg.emb_dim ** -0.5)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = make_rnn(cfg.cell, cfg.emb_dim, h, cfg.layers, cfg.dropout, cfg.bidirectional)
        self.memory_proj = nn.Linear(h * dirs, h) if dirs > 1 else nn.Identity()
        self.bridge = nn.Linear(h * dirs, h)  # encoder final state -> decoder initial state, per layer
        dec_in = cfg.emb_dim + (h if cfg.attention == "bahdanau" else 0)
        self.decoder = make_rnn(cfg.cell, dec_in, h, cfg.layers, cfg.dropout)
        if cfg.attention == "luong":
            self.attn = MultiplicativeAttention(h)
            self.combine = nn.Linear(2 * h, h, bias=False)
        elif cfg.attention == "bahdanau":
            self.attn = AdditiveAttention(h)
            self.combine = nn.Linear(2 * h + cfg.emb_dim, h, bias=False)
        self.out = nn.Linear(h, cfg.emb_dim)  # then tied to the embedding matrix
        self.transposed = TransposedWeights()  # the output embedding, for decoding

    # ---- encoder
    def encode(self, src):
        mask = source_mask(src)
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.drop(self.embed(src)), lengths, batch_first=True, enforce_sorted=False)
        outputs, final = self.encoder(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
        memory = self.memory_proj(outputs)
        enc = {"src_mask": mask, "memory": memory}
        if self.cfg.cell == "lstm":
            enc["h0"], enc["c0"] = self._bridge(final[0]), self._bridge(final[1])
        else:
            enc["h0"] = self._bridge(final)
        if self.cfg.attention != "none":
            enc["keys"] = self.attn.precompute(memory)
        return enc

    def _bridge(self, final: torch.Tensor) -> torch.Tensor:
        """[layers*dirs, B, H] -> [B, layers, H] (batch first so beam search can reorder rows)."""
        layers, batch = self.cfg.layers, final.shape[1]
        final = final.view(layers, -1, batch, self.cfg.hidden).permute(2, 0, 1, 3).reshape(batch, layers, -1)
        return torch.tanh(self.bridge(final))

    # ---- decoder state: batch-first tensors; torch's RNNs want [layers, B, H]
    def init_state(self, enc):
        return (enc["h0"], enc["c0"]) if self.cfg.cell == "lstm" else enc["h0"]

    def _to_rnn(self, state):
        if isinstance(state, tuple):
            return tuple(s.transpose(0, 1).contiguous() for s in state)
        return state.transpose(0, 1).contiguous()

    def _from_rnn(self, hidden):
        if isinstance(hidden, tuple):
            return tuple(s.transpose(0, 1) for s in hidden)
        return hidden.transpose(0, 1)

    def _logits(self, x):
        x = self.out(self.drop(x))  # [..., emb_dim]
        if self.int8_output is not None:
            return self.int8_output(x)  # [..., V]
        return x @ self.transposed(self.embed.weight)  # [..., V] with the tied embedding

    def output_layer(self):
        return self.embed.weight

    def _run(self, tgt_in, state, enc):
        """Decoder over tgt_in [B, T] from `state`: (logits, new state, attention [B, T, S] or None)."""
        emb = self.drop(self.embed(tgt_in))
        if self.cfg.attention == "bahdanau":
            return self._run_additive(emb, state, enc)
        outputs, hidden = self.decoder(emb, self._to_rnn(state))
        weights = None
        if self.cfg.attention == "luong":
            context, weights = self.attn(outputs, enc["memory"], enc["keys"], enc["src_mask"])
            outputs = torch.tanh(self.combine(torch.cat([context, outputs], -1)))
        return self._logits(outputs), self._from_rnn(hidden), weights

    def _run_additive(self, emb, state, enc):
        hidden, steps, all_weights = self._to_rnn(state), [], []
        for t in range(emb.shape[1]):
            top = (hidden[0] if isinstance(hidden, tuple) else hidden)[-1]
            context, weights = self.attn(top.unsqueeze(1), enc["memory"], enc["keys"], enc["src_mask"])
            x = torch.cat([emb[:, t : t + 1], context], -1)
            output, hidden = self.decoder(x, hidden)
            steps.append(torch.tanh(self.combine(torch.cat([output, context, emb[:, t : t + 1]], -1))))
            all_weights.append(weights)
        return self._logits(torch.cat(steps, 1)), self._from_rnn(hidden), torch.cat(all_weights, 1)

    def decode(self, tgt_in, enc):
        return self._run(tgt_in, self.init_state(enc), enc)[0]

    def step(self, prev, state, enc):
        logits, state, _ = self._run(prev.unsqueeze(1), state, enc)
        return logits[:, 0], state

    def cross_attention(self, src, tgt_in):
        if self.cfg.attention == "none":
            raise ValueError("this model has no attention")
        enc = self.encode(src)
        weights = self._run(tgt_in, self.init_state(enc), enc)[2]
        return weights[None, None]
