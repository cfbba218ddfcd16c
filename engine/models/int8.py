"""An int8 output layer for serving on CPU.

The output layer (model width -> vocabulary) is the largest matrix a decoding step reads: at batch 1 it is about a
third of a Transformer step. Kept as int8 with one scale per word and applied by a dynamically quantized Linear
(torch.ao, x86/fbgemm kernels), it reads a quarter of the bytes (46 vs 277 µs per step here). The 256-wide layers
were no faster in int8, so they stay fp32. `Translator.load(path, int8=True)` decodes with it; whether it is offered
for a checkpoint is decided by engine/evaluation/int8_check.py.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn


def int8_linear(weight: torch.Tensor) -> nn.Module:
    """A module computing x @ weight.T with int8 weights (one scale per output row); x is quantized per call.
    weight [out, in]."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        linear.weight.copy_(weight.float())
    with warnings.catch_warnings():  # torch.ao's eager quantization is marked deprecated; torch 2.13 (pinned) has it
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantiz.*deprecated", category=UserWarning)
        return quantize_dynamic(nn.Sequential(linear), {nn.Linear: per_channel_dynamic_qconfig}, torch.qint8)[0]
