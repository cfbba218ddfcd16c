"""Training loop: teacher forcing, AdamW with warm-up, label smoothing, clipping, time/step budgets, resume.

A run directory holds:
    train_config.json   the TrainConfig
    checkpoint/         latest training checkpoint (weights + optimizer + trainer state), saved atomically
    best/               weights with the best validation loss so far
    metrics.jsonl       one JSON record per step ("step") and per evaluation ("eval")
"""
from __future__ import annotations

import gc
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import sacrebleu
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from . import corpora
from .batching import collate, token_batches
from .checkpoint import atomic_write_json, load_checkpoint, load_training_state, resolve, save_checkpoint
from .distributed import close_world, init_world
from .evaluation import mean_nll
from .models import build_model, model_spec
from .tokenizer import PAD_ID, encode, load_tokenizer, save_tokenizer, train_tokenizer
from .translate import Translator

MAX_TRAIN_TOKENS = 128  # longer training examples are cut to this many subwords


@dataclass
class TrainConfig:
    preset: str = "gru-attn"
    size: str = "base"
    corpus: str = "ding-en-de"
    direction: str = "en-de"
    extra_phrases: bool = False  # add ding's multi-word phrase pairs to the training data
    vocab_size: int = 4000
    model_overrides: dict = field(default_factory=dict)
    max_tokens: int = 2000  # padded tokens per batch (batch x longest sequence)
    lr: float = 1e-3
    schedule: str = "inverse-sqrt"  # after linear warm-up: "inverse-sqrt" decay or "constant"
    warmup_steps: int = 300
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    clip_norm: float = 1.0  # 0 disables clipping (the pre-clip norm is logged either way)
    minutes: float | None = None  # budget of training time (evaluation excluded)
    max_steps: int | None = None
    max_epochs: int | None = None
    eval_every: int = 0  # steps between evaluations; 0 = once per epoch
    valid_sentences: int = 200  # valid pairs decoded for validation BLEU (all are used for loss)
    patience: int = 0  # stop after this many evaluations without a better validation loss; 0 = never
    checkpoint_every: int = 200  # steps between training checkpoints
    bf16: bool = False  # bf16 autocast (CPUs with AVX-512 bf16, CUDA)
    seed: int = 1
    threads: int | None = None
    device: str = "auto"
    train_limit: int | None = None  # use only the first N training pairs (tests, quick runs)


@dataclass
class TrainerState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    train_seconds: float = 0.0  # time spent in training steps: what the --minutes budget counts
    wall_seconds: float = 0.0  # everything, evaluation and checkpoints included
    best_valid_loss: float = math.inf
    evals_without_improvement: int = 0
    last_eval_step: int = 0  # the step of the newest evaluation this state includes
    finished: str | None = None  # why training stopped, once it did


class TrainingStopped(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)


def cpu_has_bf16() -> bool:
    """Native bf16 matmuls (Linux flags avx512_bf16 or amx_bf16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


SCHEDULES = ("inverse-sqrt", "constant")


def learning_rate(step: int, peak: float, warmup: int, schedule: str = "inverse-sqrt") -> float:
    """Linear warm-up to `peak`, then constant or decaying with 1/sqrt(step) (Vaswani et al.)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}")
    step, warmup = max(step, 1), max(warmup, 1)
    if step <= warmup:
        return peak * step / warmup
    return peak if schedule == "constant" else peak * math.sqrt(warmup / step)


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, on_record: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.on_record, self.should_stop = on_record or (lambda r: None), should_stop or (lambda: False)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.world = init_world(cfg.device)  # one process, or one rank of a torchrun job
        self.device = pick_device(cfg.device, self.world.local_rank)
        if cfg.bf16 and self.device.type == "cpu" and not cpu_has_bf16():
            raise ValueError("--bf16 needs a CPU with native bf16 (AVX512-BF16 or AMX); this one would emulate it "
                             "and train many times slower. Leave --bf16 off here.")
        self.train_pairs = corpora.load_split(cfg.corpus, "train", cfg.direction)[: cfg.train_limit]
        if cfg.extra_phrases:
            self.train_pairs += corpora.load_split(cfg.corpus, "phrases", cfg.direction)
        self.valid_pairs = corpora.load_split(cfg.corpus, "valid", cfg.direction)
        self.state = TrainerState()
        checkpoint = resolve(self.run_dir / "checkpoint")
        resuming = checkpoint.exists()
        if resuming:
            self.model, self.spec, self.tokenizer, _ = load_checkpoint(checkpoint, str(self.device))
        else:
            torch.manual_seed(cfg.seed)
            self.tokenizer = self._shared_tokenizer()
            self.spec = model_spec(cfg.preset, len(self.tokenizer), cfg.size, **cfg.model_overrides)
            self.model = build_model(self.spec).to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        if resuming:
            self.state = TrainerState(**load_training_state(checkpoint, self.model, self.optimizer))
            self.state.finished = None  # a resumed run goes on until its (possibly larger) budget is spent
        self.network = DistributedDataParallel(self.model) if self.world.distributed else self.model  # what trains
        self.src_ids = [s[:MAX_TRAIN_TOKENS] for s in encode(self.tokenizer, [s for s, _ in self.train_pairs])]
        self.tgt_ids = [t[:MAX_TRAIN_TOKENS] for t in encode(self.tokenizer, [t for _, t in self.train_pairs])]
        self.lengths = [max(len(s), len(t)) for s, t in zip(self.src_ids, self.tgt_ids)]
        self.metrics_path = self.run_dir / "metrics.jsonl"
        if self.world.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.run_dir / "train_config.json", asdict(cfg))
            self._truncate_metrics()

    def _shared_tokenizer(self):
        """Train the tokenizer once (on the main process) and give every rank the same one."""
        path = self.run_dir / "tokenizer.json"
        if self.world.main:
            tokenizer = train_tokenizer([x for pair in self.train_pairs for x in pair], self.cfg.vocab_size)
            if self.world.distributed:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                save_tokenizer(tokenizer, path)
        self.world.barrier()
        return tokenizer if self.world.main else load_tokenizer(path)

    # ---------------------------------------------------------------- bookkeeping
    def _truncate_metrics(self) -> None:
        """Drop what the checkpoint does not include (later steps; an evaluation at its own step that ran after
        it was saved), so the resumed run's log has no duplicates."""
        if not self.metrics_path.exists():
            return
        kept = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            step = record.get("step", 0)
            if step < self.state.step or (step == self.state.step and (record.get("kind") != "eval" or
                                                                         step == self.state.last_eval_step)):
                kept.append(line)
        tmp = self.metrics_path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        tmp.replace(self.metrics_path)

    def _log(self, record: dict) -> None:
        if not self.world.main:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self.on_record(record)

    def meta(self) -> dict:
        return {
            "preset": self.cfg.preset, "corpus": self.cfg.corpus, "direction": self.cfg.direction,
            "parameters": self.model.num_parameters(), "steps": self.state.step, "epochs": self.state.epoch,
            "train_minutes": round(self.state.train_seconds / 60, 2), "wall_minutes": round(self.state.wall_seconds / 60, 2),
            "best_valid_loss": self.state.best_valid_loss if math.isfinite(self.state.best_valid_loss) else None,
            "device": str(self.device), "processes": self.world.size, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "train_pairs": len(self.train_pairs), "train_config": asdict(self.cfg),
        }

    def close(self) -> None:
        """Leave the process group. DDP's reducer must go first: freeing it after the group can deadlock on exit."""
        if self.world.distributed:
            self.network = self.model
            gc.collect()
            close_world(self.world)

    def save(self) -> None:
        if not self.world.main:
            return
        save_checkpoint(self.run_dir / "checkpoint", self.model, self.spec, self.tokenizer, self.meta(),
                        optimizer=self.optimizer, trainer_state=asdict(self.state))

    # ---------------------------------------------------------------- the loop
    def budget_left(self) -> bool:
        cfg, st = self.cfg, self.state
        if cfg.minutes is not None and st.train_seconds >= cfg.minutes * 60:
            return False
        if cfg.max_steps is not None and st.step >= cfg.max_steps:
            return False
        if cfg.max_epochs is not None and st.epoch >= cfg.max_epochs:
            return False
        return True

    def keep_going(self) -> bool:
        """Budget left and no stop request, as decided by the main process (every rank must agree)."""
        return self.world.agree(self.budget_left() and not self.should_stop())

    def train_step(self, batch: list[int]) -> dict:
        cfg = self.cfg
        self.network.train()
        examples, weight = self.world.shard(batch)
        src, tgt_in, tgt_out = collate([self.src_ids[i] for i in examples], [self.tgt_ids[i] for i in examples], self.device)
        lr = learning_rate(self.state.step + 1, cfg.lr, cfg.warmup_steps, cfg.schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = self.network(src, tgt_in)
        loss_sum = weight * F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                                            ignore_index=PAD_ID, label_smoothing=cfg.label_smoothing, reduction="sum")
        local_targets = weight * int((tgt_out != PAD_ID).sum())
        local_sources = weight * int((src != PAD_ID).sum())
        total_loss, targets, sources = self.world.sum(loss_sum.item(), local_targets, local_sources)
        mean_loss = total_loss / targets
        if not math.isfinite(mean_loss):
            raise TrainingStopped(f"loss became {mean_loss} at step {self.state.step + 1}; the last checkpoint is kept")
        self.optimizer.zero_grad(set_to_none=True)
        (loss_sum * self.world.size / targets).backward()  # DDP averages over ranks: the global per-token mean
        max_norm = cfg.clip_norm if cfg.clip_norm > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm).item()
        self.optimizer.step()
        return {"loss": mean_loss, "tokens": int(targets + sources), "grad_norm": grad_norm, "lr": lr}

    @torch.inference_mode()
    def evaluate(self) -> dict:
        valid_loss = mean_nll(self.model, self.tokenizer, self.valid_pairs)
        sample = self.valid_pairs[: self.cfg.valid_sentences]
        translator = Translator(self.model, self.tokenizer, self.spec)
        hypotheses = [t.text for t in translator.translate([s for s, _ in sample])]
        bleu = sacrebleu.corpus_bleu(hypotheses, [[t for _, t in sample]]).score
        return {"valid_loss": round(valid_loss, 4), "valid_ppl": round(math.exp(min(valid_loss, 50)), 2), "valid_bleu": round(bleu, 2)}

    def run_evaluation(self) -> None:
        """Evaluate on the main process; every rank then shares its verdict (for early stopping)."""
        st = self.state
        st.last_eval_step = st.step
        if self.world.main:
            record = {"kind": "eval", "step": st.step, "epoch": st.epoch, **self.evaluate(),
                      "train_seconds": round(st.train_seconds, 2), "wall_seconds": round(st.wall_seconds, 2)}
            if record["valid_loss"] < st.best_valid_loss:
                st.best_valid_loss, st.evals_without_improvement = record["valid_loss"], 0
                save_checkpoint(self.run_dir / "best", self.model, self.spec, self.tokenizer, self.meta())
            else:
                st.evals_without_improvement += 1
            self._log(record)
        best, waited = self.world.broadcast(st.best_valid_loss, st.evals_without_improvement)
        st.best_valid_loss, st.evals_without_improvement = best, int(waited)

    def _step(self, batch: list[int], wall_start: float, wall_before: float) -> None:
        st = self.state
        step_start = time.perf_counter()
        out = self.train_step(batch)
        seconds = time.perf_counter() - step_start
        st.step, st.batch_in_epoch, st.train_seconds = st.step + 1, st.batch_in_epoch + 1, st.train_seconds + seconds
        st.wall_seconds = wall_before + time.perf_counter() - wall_start
        self._log({"kind": "step", "step": st.step, "epoch": st.epoch, "loss": round(out["loss"], 4),
                   "tokens": out["tokens"], "tokens_per_s": round(out["tokens"] / seconds, 1),
                   "grad_norm": round(out["grad_norm"], 4), "lr": out["lr"],
                   "train_seconds": round(st.train_seconds, 3), "wall_seconds": round(st.wall_seconds, 3)})
        if self.cfg.eval_every and st.step % self.cfg.eval_every == 0:
            self.run_evaluation()

    def train(self) -> TrainerState:
        cfg, st = self.cfg, self.state
        wall_start, wall_before = time.perf_counter(), st.wall_seconds
        since_checkpoint = 0
        try:
            while not st.finished and self.keep_going():
                batches = token_batches(self.lengths, cfg.max_tokens, cfg.seed, st.epoch)
                for batch in batches[st.batch_in_epoch:]:
                    if not self.keep_going():
                        break
                    self._step(batch, wall_start, wall_before)
                    since_checkpoint += 1
                    if since_checkpoint >= cfg.checkpoint_every:
                        self.save()
                        since_checkpoint = 0
                if st.batch_in_epoch == len(batches):  # the epoch is complete
                    st.epoch, st.batch_in_epoch = st.epoch + 1, 0
                    if not cfg.eval_every:
                        self.run_evaluation()
                    if cfg.patience and st.evals_without_improvement >= cfg.patience:
                        st.finished = "early stopping"
            st.finished = st.finished or ("stopped" if self.should_stop() else "budget spent")
            if st.step and st.step != st.last_eval_step:  # the budget ended mid-epoch: score the final weights too
                self.run_evaluation()
        except KeyboardInterrupt:
            st.finished = "interrupted"
        except TrainingStopped as exc:
            self._log({"kind": "end", "step": st.step, "reason": str(exc)})
            raise
        st.wall_seconds = wall_before + time.perf_counter() - wall_start
        self.save()
        self._log({"kind": "end", "step": st.step, "reason": st.finished, "train_seconds": round(st.train_seconds, 2),
                   "wall_seconds": round(st.wall_seconds, 2)})
        return st
