"""Hugging Face interop: translate with any transformers seq2seq model, a local directory or a Hub id such as
Helsinki-NLP/opus-mt-en-de, and export our Transformer to one.

A directory loads from its own files only. A Hub id loads from this machine's Hugging Face cache, and from the Hub
when the machine reaches it (not with HF_HUB_OFFLINE=1). Weights load from safetensors only: a model holding only
pickled weights (pytorch_model.bin) is refused rather than unpickled.

Our Transformer has scaled, tied embeddings, added position tables and ReLU feed-forwards. Post-norm (the shipped
recipe) is transformers' Marian layout, and pre-norm with final layer norms is Pegasus's, so the export gives the
same logits. Marian computes its own sinusoidal table, with the sines in the first half of the dimensions and the
cosines in the second, where ours interleaves them: the export reorders the model's dimensions to match, which
changes no output. A post-norm model with learned or no positions has no twin (Marian always adds its sinusoids).
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import torch

from engine.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from engine.inference.decoding import max_lengths
from engine.inference.translate import MAX_SOURCE_TOKENS, Translation, Translator
from engine.models.checkpoint import CheckpointError, first_line, load_checkpoint

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")  # owner/name, as the Hub spells them


def is_hub_id(source: str | Path) -> bool:
    """'Helsinki-NLP/opus-mt-en-de': an owner/name that is not a path on this machine."""
    text = str(source)
    return bool(HUB_ID.fullmatch(text)) and not Path(text).exists() and ".." not in text


def is_transformers_dir(path: Path) -> bool:
    """A directory saved by transformers' save_pretrained (its config.json names a model_type)."""
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "model_type" in config and "format_version" not in config


def load_translator(source: str | Path, device: str = "cpu"):
    """An engine checkpoint's Translator, or an HFTranslator for a transformers directory or a Hub id."""
    if is_transformers_dir(Path(source)) or is_hub_id(source):
        return HFTranslator.load(source, device)
    return Translator.load(Path(source), device)


class HFTranslator(Translator):
    """A transformers seq2seq model behind Translator's `translate()`: decoding is transformers' `generate`."""

    def __init__(self, model, tokenizer, name: str, meta: dict | None = None):
        super().__init__(model, tokenizer, meta, name)

    @property
    def has_attention(self) -> bool:
        return True  # loaded with eager attention, which returns its weights

    @classmethod
    def load(cls, source: str | Path, device: str = "cpu") -> HFTranslator:
        """A transformers directory, or a Hub id (from the local Hugging Face cache, or downloaded)."""
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        hub = is_hub_id(source)
        if not hub:
            path = Path(source)
            if not (path / "model.safetensors").is_file() and not list(path.glob("model-*.safetensors")):
                raise CheckpointError(f"{path / 'model.safetensors'}: missing (pickled weights such as "
                                      "pytorch_model.bin are refused)")
        where = dict(local_files_only=not hub or os.environ.get("HF_HUB_OFFLINE") == "1",
                     cache_dir=os.environ.get("HF_HUB_CACHE") if hub else None)
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(source, use_safetensors=True, attn_implementation="eager",
                                                          **where)
            tokenizer = AutoTokenizer.from_pretrained(source, **where)
        except Exception as exc:  # transformers raises many kinds; the dashboard shows the message
            raise CheckpointError(loading_failure(str(source), exc, hub)) from exc
        meta = getattr(model.config, "arena", None) or {}
        return cls(model.to(device), tokenizer, str(source) if hub else Path(source).name, meta)

    @torch.inference_mode()
    def _translate_batch(self, sentences, beam, length_penalty, max_len_ratio, with_attention):
        full = self.tokenizer(list(sentences))["input_ids"]
        batch = self.tokenizer(list(sentences), padding=True, truncation=True, max_length=MAX_SOURCE_TOKENS,
                               return_tensors="pt").to(self.device)
        limits = max_lengths(batch["attention_mask"].sum(1).tolist(), max_len_ratio)  # the engine's own limits
        start = time.perf_counter()
        beam_options = {"early_stopping": True} if beam > 1 else {}  # as ours: stop at `beam` finished hypotheses
        generated = self.model.generate(**batch, num_beams=beam, do_sample=False, length_penalty=length_penalty,
                                        max_new_tokens=max(limits), max_length=None, **beam_options)
        ms = (time.perf_counter() - start) * 1000 / len(sentences)
        eos, pad = self.model.generation_config.eos_token_id, self.model.generation_config.pad_token_id
        outputs = []
        for row, limit in zip(generated[:, 1:].tolist(), limits):  # drop the decoder start token; stop at the end
            outputs.append([t for t in row[: row.index(eos) if eos in row else len(row)] if t != pad][:limit])
        attention = self._attention(batch, generated) if with_attention else None
        results = []
        for i, out in enumerate(outputs):
            src_len = int(batch["attention_mask"][i].sum())
            weights = None if attention is None else attention[:, :, i, : len(out) + 1, :src_len]
            results.append(Translation(
                text=self.tokenizer.decode(out, skip_special_tokens=True),
                tokens=self.tokenizer.convert_ids_to_tokens(out),
                source_tokens=self.tokenizer.convert_ids_to_tokens(batch["input_ids"][i, :src_len].tolist()), ms=ms,
                attention=weights, truncated=len(full[i]) > MAX_SOURCE_TOKENS))
        return results

    def _attention(self, batch, generated) -> np.ndarray:
        """Cross-attention [layers, heads, batch, target, source] of a teacher-forced pass over the output."""
        out = self.model(**batch, decoder_input_ids=generated, output_attentions=True)
        return torch.stack(out.cross_attentions).transpose(1, 2).float().cpu().numpy()


def loading_failure(source: str, exc: Exception, hub: bool) -> str:
    """Why a transformers model did not load, in one sentence a visitor can act on."""
    text = str(exc)
    if "model.safetensors" in text or "pytorch_model.bin" in text:
        return (f"{source}: no safetensors weights; only pickled weights (pytorch_model.bin), which are refused, or "
                "none")
    if "Unrecognized configuration class" in text or "Unrecognized model" in text:
        return f"{source}: not a translation (sequence-to-sequence) model"
    if hub and ("couldn't connect" in text or "offline" in text.lower()):
        return (f"{source}: not in this machine's Hugging Face cache, and the Hub cannot be reached from here (no "
                "network, or HF_HUB_OFFLINE=1)")
    if hub and ("not a valid model identifier" in text or "Repository Not Found" in text or "404" in text):
        return f"{source}: no such model on the Hugging Face Hub"
    return f"{source}: not a loadable transformers translation model ({first_line(exc)})"


# ---------------------------------------------------------------- export
def export_transformer(checkpoint: Path, out: Path) -> Path:
    """Write an engine Transformer checkpoint as a transformers MarianMTModel (post-norm) or
    PegasusForConditionalGeneration (pre-norm) directory."""
    from tokenizers import processors
    from transformers import MarianConfig, MarianMTModel, PegasusConfig, PegasusForConditionalGeneration

    model, spec, tokenizer, meta = load_checkpoint(checkpoint)
    try:
        architecture = model.transformers_architecture()
    except ValueError as exc:
        raise CheckpointError(f"{checkpoint}: {exc}") from None
    c = model.cfg
    settings = dict(
        vocab_size=c.vocab_size, d_model=c.d_model, encoder_layers=c.encoder_layers,
        decoder_layers=c.decoder_layers, encoder_attention_heads=c.heads, decoder_attention_heads=c.heads,
        encoder_ffn_dim=c.ffn, decoder_ffn_dim=c.ffn,
        max_position_embeddings=c.max_len, activation_function="relu", scale_embedding=True, dropout=c.dropout,
        attention_dropout=0.0, activation_dropout=0.0, pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
        decoder_start_token_id=BOS_ID, forced_eos_token_id=None, tie_word_embeddings=True,
        arena={"direction": meta.get("direction"), "corpus": meta.get("corpus"), "exported_from": str(checkpoint)},
    )
    if architecture == "PegasusForConditionalGeneration":
        hf = PegasusForConditionalGeneration(PegasusConfig(**settings)).eval()
    else:
        hf = MarianMTModel(MarianConfig(**settings, share_encoder_decoder_embeddings=True)).eval()
    missing = set(hf.state_dict()) - set(mapped := hf_state_dict(model))
    hf.load_state_dict(mapped, strict=False)
    tied = {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"}
    if missing - tied:
        raise CheckpointError(f"{checkpoint}: export left {sorted(missing - tied)[:3]} unset")
    hf.generation_config.update(max_length=c.max_len, num_beams=1, decoder_start_token_id=BOS_ID,
                                eos_token_id=EOS_ID, pad_token_id=PAD_ID, forced_eos_token_id=None,
                                suppress_tokens=[PAD_ID, BOS_ID])  # as our decoders: never output padding or BOS
    out = Path(out)
    hf.save_pretrained(out)
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>",
                                                                               special_tokens=[("</s>", EOS_ID)])
    tokenizer.save_pretrained(out)  # adds </s> to every source, as our encoder was trained
    return out


# our layer's module names -> transformers' (Pegasus and Marian share them), per side
HF_ATTENTION = {"encoder": {"attn": "self_attn"}, "decoder": {"self_attn": "self_attn", "cross_attn": "encoder_attn"}}
HF_LAYER = {
    "encoder": {"norm1": "self_attn_layer_norm", "norm2": "final_layer_norm", "ffn.up": "fc1", "ffn.down": "fc2"},
    "decoder": {"norm1": "self_attn_layer_norm", "norm2": "encoder_attn_layer_norm", "norm3": "final_layer_norm",
                "ffn.up": "fc1", "ffn.down": "fc2"},
}


def hf_state_dict(model) -> dict[str, torch.Tensor]:
    """Our Transformer's weights under transformers' names (positions become its position table); for a post-norm
    model, with the model dimensions in Marian's order."""
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    cfg = model.cfg
    if cfg.positional == "learned":
        table = sd["position.table.weight"]
    elif cfg.positional == "none":
        table = torch.zeros(cfg.max_len, cfg.d_model)
    else:  # sinusoidal: a fixed buffer, outside the state dict
        table = model.position.table.detach().float()
    out = {"model.shared.weight": sd["embed.weight"], "final_logits_bias": torch.zeros(1, cfg.vocab_size),
           "model.encoder.embed_positions.weight": table.clone(), "model.decoder.embed_positions.weight": table.clone()}

    def attention(ours: str, theirs: str) -> None:
        fused = f"{ours}.qkv.weight" in sd  # self-attention: one q/k/v matrix; cross-attention: q and kv
        weights = sd[f"{ours}.qkv.weight"] if fused else torch.cat([sd[f"{ours}.q.weight"], sd[f"{ours}.kv.weight"]])
        biases = sd[f"{ours}.qkv.bias"] if fused else torch.cat([sd[f"{ours}.q.bias"], sd[f"{ours}.kv.bias"]])
        for name, w, b in zip(("q", "k", "v"), weights.chunk(3, 0), biases.chunk(3, 0)):
            out[f"{theirs}.{name}_proj.weight"], out[f"{theirs}.{name}_proj.bias"] = w, b
        out[f"{theirs}.out_proj.weight"] = sd[f"{ours}.out.weight"]
        out[f"{theirs}.out_proj.bias"] = sd[f"{ours}.out.bias"]

    def copy(ours: str, theirs: str) -> None:
        out[f"{theirs}.weight"], out[f"{theirs}.bias"] = sd[f"{ours}.weight"], sd[f"{ours}.bias"]

    for side, count in (("encoder", cfg.encoder_layers), ("decoder", cfg.decoder_layers)):
        for i in range(count):
            ours, theirs = f"{side}_layers.{i}", f"model.{side}.layers.{i}"
            for a, b in HF_ATTENTION[side].items():
                attention(f"{ours}.{a}", f"{theirs}.{b}")
            for a, b in HF_LAYER[side].items():
                copy(f"{ours}.{a}", f"{theirs}.{b}")
    if cfg.norm_first:
        copy("encoder_norm", "model.encoder.layer_norm")
        copy("decoder_norm", "model.decoder.layer_norm")
        return out
    # sines then cosines: ours interleaves them (dimension 2i a sine, 2i+1 its cosine)
    order = torch.cat([torch.arange(0, cfg.d_model, 2), torch.arange(1, cfg.d_model, 2)])
    return {name: reorder_model_dims(name, tensor, order) for name, tensor in out.items()}


def reorder_model_dims(name: str, tensor: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """A weight with its model-dimension axis (the residual stream's) put in `order`; the attention heads' and the
    feed-forward's own dimensions stay. The same reordering everywhere leaves every output unchanged."""
    if name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "fc1.weight", "shared.weight",
                      "embed_positions.weight")):
        return tensor[:, order]  # reads the model dimensions: [out, D] or [rows, D]
    if name.endswith(("out_proj.weight", "out_proj.bias", "fc2.weight", "fc2.bias")) or "layer_norm" in name:
        return tensor[order]  # writes (or normalises) the model dimensions: [D, in] or [D]
    return tensor  # q/k/v and fc1 biases (head / feed-forward dimensions), final_logits_bias
