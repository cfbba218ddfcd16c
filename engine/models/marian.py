"""`hf-marian`: transformers' MarianMTModel, randomly initialised at a matching size, behind our interface."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache, EncoderDecoderCache, MarianConfig, MarianMTModel
from transformers.modeling_outputs import BaseModelOutput

from engine.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from engine.models.base import Seq2Seq, source_mask


@dataclass
class MarianSize:
    """Sizes of the `hf-marian` preset, matched to our Transformer's."""
    vocab_size: int = 8000
    d_model: int = 256
    heads: int = 4
    ffn: int = 512
    encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.1  # as our Transformer's
    attention_dropout: float = 0.1
    activation_dropout: float = 0.1
    max_len: int = 512

    def to_hf(self) -> MarianConfig:
        """The transformers MarianConfig of these sizes, with our special token ids."""
        return MarianConfig(
            vocab_size=self.vocab_size, d_model=self.d_model, encoder_layers=self.encoder_layers,
            decoder_layers=self.decoder_layers, encoder_attention_heads=self.heads, decoder_attention_heads=self.heads,
            encoder_ffn_dim=self.ffn, decoder_ffn_dim=self.ffn, dropout=self.dropout,
            max_position_embeddings=self.max_len,
            attention_dropout=self.attention_dropout, activation_dropout=self.activation_dropout,
            pad_token_id=PAD_ID, eos_token_id=EOS_ID, bos_token_id=BOS_ID, decoder_start_token_id=BOS_ID,
            forced_eos_token_id=EOS_ID, scale_embedding=True, share_encoder_decoder_embeddings=True,
            tie_word_embeddings=True,
        )


class MarianSeq2Seq(Seq2Seq):
    """transformers' MarianMTModel behind our interface (post-norm, learned from scratch)."""
    family = "hf-marian"
    tiny = {"d_model": 32, "heads": 2, "ffn": 64, "encoder_layers": 2, "decoder_layers": 2, "dropout": 0.0,
            "attention_dropout": 0.0, "activation_dropout": 0.0}
    recipe = {"lr": 1e-3, "warmup_steps": 600}  # post-norm: collapsed to one output at 3e-3

    @classmethod
    def probe_overrides(cls, hidden: int) -> dict:
        return {"d_model": hidden, "heads": 4, "ffn": 4 * hidden, "encoder_layers": 2, "decoder_layers": 2,
                "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0}

    def __init__(self, cfg: MarianSize):
        super().__init__()
        self.cfg = cfg
        self.model = MarianMTModel(cfg.to_hf())


    def transformers_architecture(self) -> str:
        raise ValueError("hf-marian checkpoints already are MarianMTModel weights: no export needed")
    def sequential_steps(self, length: int) -> int:
        return self.cfg.encoder_layers + self.cfg.decoder_layers

    def train(self, mode: bool = True):
        """Fused attention kernels while training; eager ones otherwise, which also return attention weights (so
        `cross_attention` never has to switch a model that other threads may be decoding with)."""
        wanted = "sdpa" if mode else "eager"
        if getattr(self.model.config, "_attn_implementation", None) != wanted:
            self.model.set_attn_implementation(wanted)
        return super().train(mode)

    def encode(self, src):
        mask = source_mask(src)
        memory = self.model.get_encoder()(input_ids=src, attention_mask=mask.long()).last_hidden_state
        return {"src_mask": mask, "memory": memory}

    def _call(self, tgt_in, enc, cache=None, output_attentions=False):
        return self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=enc["memory"]), attention_mask=enc["src_mask"].long(),
            decoder_input_ids=tgt_in, cache=cache, use_cache=cache is not None,
            output_attentions=output_attentions,
        )

    def decode(self, tgt_in, enc):
        return self._call(tgt_in, enc).logits

    def init_state(self, enc):
        return EncoderDecoderCache(DynamicCache(), DynamicCache())

    def select(self, state, index):
        state.reorder_cache(index)
        return state

    def step(self, prev, state, enc):
        out = self._call(prev.unsqueeze(1), enc, cache=state)
        return out.logits[:, 0], out.cache

    def output_layer(self):
        return self.model.lm_head.weight  # transformers adds final_logits_bias after it

    def use_int8_output(self):
        super().use_int8_output()
        self.model.lm_head = self.int8_output  # transformers calls lm_head for the logits

    def input_embedding(self):
        return self.model.get_input_embeddings()

    def cross_attention(self, src, tgt_in):
        if self.training:
            raise RuntimeError("attention weights come from the eager kernels of an eval-mode model")
        out = self._call(tgt_in, self.encode(src), output_attentions=True)
        return torch.stack(out.cross_attentions).transpose(1, 2)  # [layers, B, heads, T, S] -> [layers, heads, B, T, S]
