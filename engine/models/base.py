"""The interface every translator family implements, so training and decoding treat them alike."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.data.tokenizer import PAD_ID

State = Any  # a family's decoder state: nested tuples/lists/dicts of tensors with the batch on dim 0


class Seq2Seq(nn.Module):
    """Encoder-decoder over one joint vocabulary. Token tensors are [batch, time] with PAD_ID padding.

    A family is one subclass in its own module, registered in `engine.models.FAMILIES`; everything the rest of the
    engine and the dashboard need to know about it, it answers here.
    """

    family: str
    recurrent: bool = False  # whether the encoder reads the source one token after another
    tiny: dict = {}  # config overrides of `--size tiny` (tests, quick experiments)
    recipe: dict = {"lr": 1e-3, "warmup_steps": 300}  # training defaults for TrainConfig fields left as None
    int8_output: nn.Module | None = None  # an int8 copy of the output layer, once `use_int8_output` made it

    @classmethod
    def probe_overrides(cls, hidden: int) -> dict:
        """Config overrides for the Lab's small probe models: `hidden` wide, no dropout, and (where the family
        allows) a left-to-right encoder without attention."""
        raise NotImplementedError

    @property
    def has_attention(self) -> bool:
        """Whether `cross_attention` has weights to show (a decoder that looks back at every source word)."""
        return True

    def transformers_architecture(self) -> str:
        """The transformers class this model's weights export to (`python -m engine export-hf`); ValueError saying
        why when there is none."""
        raise ValueError(f"{self.family} models have no transformers architecture to map onto; only the engine's "
                         f"Transformer exports to transformers")

    def sequential_steps(self, length: int) -> int:
        """Steps that must run one after another to encode and teacher-force a sentence of `length` tokens."""
        raise NotImplementedError

    def encode(self, src: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encoder pass; the dict always holds `src_mask` [B, S] (True on real tokens)."""
        raise NotImplementedError

    def decode(self, tgt_in: torch.Tensor, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """Teacher-forced decoder pass: logits [B, T, V] for decoder inputs [B, T] (BOS first)."""
        raise NotImplementedError

    def init_state(self, enc: dict[str, torch.Tensor]) -> State:
        """Decoder state before the first step."""
        raise NotImplementedError

    def step(self, prev: torch.Tensor, state: State, enc: dict[str, torch.Tensor]) -> tuple[torch.Tensor, State]:
        """One incremental decoder step: previous tokens [B] -> (logits [B, V], new state)."""
        raise NotImplementedError

    def output_layer(self) -> torch.Tensor:
        """The output layer's weight [V, D]: what `use_int8_output` quantizes."""
        raise NotImplementedError

    def use_int8_output(self) -> None:
        """Compute logits with an int8 copy of the output layer from now on (serving on CPU, see
        engine/models/int8.py). The copy does not follow later weight changes: for loaded checkpoints, not training."""
        from engine.models.int8 import int8_linear

        # a plain attribute, not a submodule: state_dict() and parameters() stay the float model's
        self.__dict__["int8_output"] = int8_linear(self.output_layer())

    def select(self, state: State, index: torch.Tensor) -> State:
        """Keep/reorder the batch rows `index` of a decoder state (beam search)."""
        return select_rows(state, index)

    def input_embedding(self) -> nn.Module:
        """The token embedding; its first call in a forward pass embeds the source (the Lab's gradient probes)."""
        return self.embed

    def cross_attention(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Decoder-over-source attention weights [layers, heads, B, T, S] (teacher forced)."""
        raise NotImplementedError

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, self.encode(src))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class TransposedWeights:
    """Contiguous transposed copies of weight matrices, for decoding: at batch 1 on CPU, x @ W with W stored [in, out]
    is faster than F.linear's x @ weight.T (greedy decoding 15-30 % faster here). A copy is made again whenever its
    weight changes (training between evaluations); with gradients enabled, the transposed view itself."""

    def __init__(self):
        self._copies = {}  # id(weight) -> (what the copy was made from, copy)

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return weight.t()
        made_from = (weight.data_ptr(), None if weight.is_inference() else weight._version, weight.dtype, weight.device)
        found = self._copies.get(id(weight))
        if found is None or found[0] != made_from:
            found = self._copies[id(weight)] = (made_from, weight.detach().t().contiguous())
        return found[1]


def source_mask(src: torch.Tensor) -> torch.Tensor:
    """[B, S] True on real tokens, False on padding."""
    return src != PAD_ID


def select_rows(tree: State, index: torch.Tensor, dim: int = 0) -> State:
    """Pick batch rows (beam reordering) in every tensor of a nested state."""
    if isinstance(tree, torch.Tensor):
        return tree.index_select(dim, index)
    if isinstance(tree, dict):
        return {k: select_rows(v, index, dim) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(select_rows(v, index, dim) for v in tree)
    return tree
