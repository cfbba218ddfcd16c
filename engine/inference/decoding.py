"""Batched greedy and beam search over any Seq2Seq, using its incremental `step` (cached state)."""
from __future__ import annotations

import torch

from engine.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from engine.models import Seq2Seq

SERVING_LENGTH_PENALTY = 2.0  # beam search's length penalty, chosen on the valid splits (results/decode-sweep.json)
NEVER_OUTPUT = slice(PAD_ID, BOS_ID + 1)  # padding (0) and BOS (1): a view, no index tensor per step


def max_lengths(source_lengths: list[int], ratio: float, fixed: int | None = None, extra: int = 10,
                cap: int = 256) -> list[int]:
    """Output length limit per sentence: ratio x source length (in tokens, EOS included) + extra, at most cap;
    or `fixed` for every sentence."""
    return [fixed if fixed is not None else min(cap, int(ratio * n + extra)) for n in source_lengths]


@torch.inference_mode()
def greedy_decode(model: Seq2Seq, src: torch.Tensor, max_len_ratio: float = 2.0, min_length: int = 0,
                  max_length: int | None = None) -> list[list[int]]:
    """Most likely next token at every step; returns token ids per sentence (EOS excluded).
    min_length forbids EOS before that many tokens; max_length replaces the ratio-based limit (benchmarks)."""
    limits = max_lengths((src != PAD_ID).sum(1).tolist(), max_len_ratio, max_length)
    enc = model.encode(src)
    state = model.init_state(enc)
    prev = torch.full((src.shape[0],), BOS_ID, dtype=torch.long, device=src.device)  # [B]
    outputs: list[list[int]] = [[] for _ in limits]
    done = [False] * len(limits)
    for t in range(max(limits)):
        logits, state = model.step(prev, state, enc)  # [B, V]
        logits[:, NEVER_OUTPUT] = float("-inf")  # [B, V]; an untrained model may score them highest
        if t < min_length:
            logits[:, EOS_ID] = float("-inf")
        prev = logits.argmax(-1)  # [B]
        for i, token in enumerate(prev.tolist()):
            if done[i]:
                continue
            if token == EOS_ID or t >= limits[i]:
                done[i] = True
            else:
                outputs[i].append(token)
        if all(done):
            break
    return outputs


@torch.inference_mode()
def beam_search(model: Seq2Seq, src: torch.Tensor, beam: int = 5, length_penalty: float = 1.0,
                max_len_ratio: float = 2.0, min_length: int = 0, max_length: int | None = None) -> list[list[int]]:
    """Beam search batched over sentences x beams. Hypotheses are ranked by log-prob / length**length_penalty.

    Each step takes the 2*beam best continuations: finished ones (EOS) among the top `beam` are kept, the best
    `beam` unfinished ones carry on. A sentence stops once it has `beam` finished hypotheses.
    """
    batch, device = src.shape[0], src.device
    limits = max_lengths((src != PAD_ID).sum(1).tolist(), max_len_ratio, max_length)
    rows = torch.arange(batch, device=device).repeat_interleave(beam)
    enc = {k: v.index_select(0, rows) for k, v in model.encode(src).items()}
    state = model.init_state(enc)
    scores = torch.full((batch, beam), float("-inf"), device=device)  # [B, beam] log-probs so far
    scores[:, 0] = 0.0
    tokens = torch.full((batch * beam, 0), BOS_ID, dtype=torch.long, device=device)  # [B*beam, t] outputs so far
    prev = torch.full((batch * beam,), BOS_ID, dtype=torch.long, device=device)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    done = [False] * batch

    for t in range(max(limits) + 1):
        logits, state = model.step(prev, state, enc)
        logits[:, NEVER_OUTPUT] = float("-inf")  # [B*beam, V]
        logp = logits.float().log_softmax(-1)
        if t < min_length:
            logp[:, EOS_ID] = float("-inf")
        # a sentence's 2*beam best continuations are among its rows' own 2*beam best: rank those, not beam x V
        per_row = min(2 * beam, logp.shape[-1])
        row_logp, row_token = logp.topk(per_row, dim=1)  # [B*beam, per_row]
        candidates = (scores.view(-1, 1) + row_logp).view(batch, beam * per_row)  # [B, beam*per_row]
        top_scores, top_ids = candidates.topk(min(2 * beam, beam * per_row), dim=1)  # [B, 2*beam]
        origin, token = top_ids // per_row, row_token.view(batch, -1).gather(1, top_ids)
        next_scores = [[float("-inf")] * beam for _ in range(batch)]
        next_origin = [[b * beam] * beam for b in range(batch)]  # rows of finished sentences stay put
        next_token = [[PAD_ID] * beam for _ in range(batch)]
        top_list, origin_list, token_list = top_scores.tolist(), origin.tolist(), token.tolist()
        for b in range(batch):
            if done[b]:
                continue
            kept = 0
            for rank in range(len(top_list[b])):
                score, o, tok = top_list[b][rank], origin_list[b][rank], token_list[b][rank]
                if score == float("-inf"):
                    break
                if tok == EOS_ID or t >= limits[b]:
                    history = tokens[b * beam + o].tolist()
                    if rank < beam:  # only a top-ranked EOS counts
                        length = len(history) + (1 if tok == EOS_ID else 0)
                        finished[b].append((score / max(length, 1) ** length_penalty, history))
                    continue
                if kept < beam:
                    next_scores[b][kept], next_origin[b][kept], next_token[b][kept] = score, b * beam + o, tok
                    kept += 1
            if len(finished[b]) >= beam or t >= limits[b] or kept == 0:
                done[b] = True
                next_scores[b] = [float("-inf")] * beam
        if all(done):
            break
        flat_origin = torch.tensor(next_origin, device=device).view(-1)
        prev = torch.tensor(next_token, device=device).view(-1)
        tokens = torch.cat([tokens.index_select(0, flat_origin), prev.unsqueeze(1)], 1)
        state = model.select(state, flat_origin)
        scores = torch.tensor(next_scores, device=device)

    return [max(hyps)[1] if hyps else [] for hyps in finished]
