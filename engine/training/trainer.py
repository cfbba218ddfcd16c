"""Training loop: teacher forcing, AdamW with warm-up, label smoothing, clipping, time/token/step budgets, resume.

A run directory holds:
    train_config.json   the TrainConfig
    checkpoint/         latest training checkpoint (weights + optimizer + trainer state), saved atomically
    best/               weights with the best validation loss so far
    snapshots/          weights at the last `average_last` evaluations (for checkpoint averaging at export)
    metrics.jsonl       one JSON record per step ("step") and per evaluation ("eval")
"""
from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from safetensors.torch import save_model
from torch.nn.parallel import DistributedDataParallel

from engine.data import corpora
from engine.data.batching import collate
from engine.data.mix import TrainingData
from engine.data.tokenizer import PAD_ID, load_tokenizer, save_tokenizer, train_tokenizer
from engine.evaluation.metrics import corpus_scores, mean_nll, sequence_loss
from engine.inference.translate import Translator
from engine.models import SIZES, build_model, model_class, model_spec
from engine.models.checkpoint import atomic_write_json, load_checkpoint, load_training_state, resolve, save_checkpoint
from engine.training import metrics_log
from engine.training.distributed import close_world, init_world

MAX_TRAIN_TOKENS = 128  # longer training examples are cut to this many subwords


SCHEDULES = ("inverse-sqrt", "constant")


def option(default, help: str, **argparse_extras):
    """A TrainConfig field with its command-line help (the CLI builds one flag per field from these)."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"help": help, **argparse_extras})
    return field(default=default, metadata={"help": help, **argparse_extras})


@dataclass
class TrainConfig:
    """Everything a training run needs: `python -m engine train --help` lists these as flags."""

    preset: str = option("gru-attn", "model preset (engine/models/__init__.py)")
    size: str = option("base", "model size: base, or tiny for tests and quick runs", choices=SIZES)
    corpus: str = option("ding-en-de", "corpus whose valid split picks the best weights and names the model's data",
                         choices=tuple(corpora.CORPORA))
    direction: str = option("en-de", "translation direction (the CLI's default: the corpus's first)")
    mix: str = option("", "training data with weights, e.g. 'ding-en-de*3,ding-en-de/lexicon*0.05,bible-en-de*0.15' "
                          "(engine/data/mix.py); empty: the corpus's train split")
    vocab_size: int = option(4000, "joint BPE vocabulary size")
    model_overrides: dict = option({}, 'model config fields as JSON, e.g. \'{"ffn": 512}\'')
    max_tokens: int = option(1500, "padded tokens per batch (batch x longest sequence)")
    lr: float | None = option(None, "peak learning rate (default: the model family's recipe)")
    schedule: str = option("inverse-sqrt", "learning rate after the linear warm-up", choices=SCHEDULES)
    warmup_steps: int | None = option(None, "warm-up steps (default: the model family's recipe)")
    weight_decay: float = option(0.01, "AdamW weight decay")
    label_smoothing: float = option(0.1, "label smoothing of the training loss")
    clip_norm: float = option(1.0, "gradient-norm clipping; 0 disables it (the pre-clip norm is logged either way)")
    minutes: float | None = option(None, "budget of training time (evaluation excluded)")
    max_steps: int | None = option(None, "budget of optimizer steps")
    max_train_tokens: int | None = option(None, "budget of training tokens (source + target, padding excluded)")
    max_epochs: int | None = option(None, "budget of epochs")
    eval_every: int = option(0, "steps between evaluations; 0: once per epoch (unless --eval-every-tokens)")
    eval_every_tokens: int = option(0, "training tokens between evaluations (comparable learning curves)")
    valid_sentences: int = option(200, "valid pairs decoded for validation BLEU/chrF (all count for the loss)")
    patience: int = option(0, "stop after this many evaluations without a better validation loss; 0: never")
    checkpoint_every: int = option(200, "steps between training checkpoints")
    average_last: int = option(0, "keep the last N evaluation snapshots; export ships their mean if better on valid")
    bf16: bool = option(False, "bf16 autocast (CUDA, or CPUs with native bf16)")
    seed: int = option(1, "random seed (weights, batch order, data mix)")
    threads: int | None = option(None, "torch threads (default: torch's choice)")
    device: str = option("auto", "auto, cpu or cuda")
    train_limit: int | None = option(None, "use only the first N pairs of the first training source")


def with_family_recipe(cfg: TrainConfig) -> TrainConfig:
    """The config with the model family's `recipe` (engine/models) wherever it leaves a setting as None."""
    recipe = model_class(cfg.preset).recipe
    return replace(cfg, **{k: v for k, v in recipe.items() if getattr(cfg, k) is None})


@dataclass
class TrainerState:
    """Where a run stands; saved with every checkpoint so --resume continues exactly."""
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    tokens_seen: int = 0  # training tokens processed (source + target, padding excluded)
    train_seconds: float = 0.0  # time spent in training steps: what the --minutes budget counts
    wall_seconds: float = 0.0  # everything, evaluation and checkpoints included
    best_valid_loss: float = math.inf
    evals_without_improvement: int = 0
    last_eval_step: int = 0  # the step of the newest evaluation this state includes
    finished: str | None = None  # why training stopped, once it did


def snapshot_files(run_dir: Path) -> list[Path]:
    """The run's evaluation-time weight snapshots, oldest first."""
    return sorted((Path(run_dir) / "snapshots").glob("step-*.safetensors"))


class TrainingStopped(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for `auto`, `cpu` or `cuda` (this rank's GPU under torchrun)."""
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


def learning_rate(step: int, peak: float, warmup: int, schedule: str = "inverse-sqrt") -> float:
    """Linear warm-up to `peak`, then constant or decaying with 1/sqrt(step) (Vaswani et al.)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}")
    step, warmup = max(step, 1), max(warmup, 1)
    if step <= warmup:
        return peak * step / warmup
    return peak if schedule == "constant" else peak * math.sqrt(warmup / step)


class Trainer:
    """One training run: data, model, optimizer, budgets, evaluation, checkpoints and the metrics log."""
    def __init__(self, cfg: TrainConfig, run_dir: Path, on_record: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None):
        cfg = with_family_recipe(cfg)
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.on_record, self.should_stop = on_record or (lambda r: None), should_stop or (lambda: False)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.world = init_world(cfg.device)  # one process, or one rank of a torchrun job
        self.device = pick_device(cfg.device, self.world.local_rank)
        if cfg.bf16 and self.device.type == "cpu" and not cpu_has_bf16():
            raise ValueError("--bf16 needs a CPU with native bf16 (AVX512-BF16 or AMX); this one would emulate it "
                             "and train many times slower. Leave --bf16 off here.")
        self.data = TrainingData.load(cfg.mix or cfg.corpus, cfg.direction, cfg.train_limit)
        self.valid_pairs = corpora.load_split(cfg.corpus, "valid", cfg.direction)
        others = dict.fromkeys(s.corpus for s in self.data.sources if s.corpus != cfg.corpus)
        self.other_valid = {c: corpora.load_split(c, "valid", cfg.direction)[: cfg.valid_sentences // 2]
                            for c in others}
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
            for later in snapshot_files(self.run_dir):  # snapshots the checkpoint does not include
                if int(later.stem.split("-")[1]) > self.state.step:
                    later.unlink()
        self.network = DistributedDataParallel(self.model) if self.world.distributed else self.model  # what trains
        self.data.encode(self.tokenizer, MAX_TRAIN_TOKENS)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        if self.world.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.run_dir / "train_config.json", asdict(cfg))
            metrics_log.truncate(self.metrics_path, self.state.step, self.state.last_eval_step)

    def _shared_tokenizer(self):
        """Train the tokenizer once (on the main process) and give every rank the same one."""
        path = self.run_dir / "tokenizer.json"
        if self.world.main:
            tokenizer = train_tokenizer(self.data.texts(), self.cfg.vocab_size)
            if self.world.distributed:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                save_tokenizer(tokenizer, path)
        self.world.barrier()
        return tokenizer if self.world.main else load_tokenizer(path)

    # ---------------------------------------------------------------- bookkeeping
    def _log(self, record: dict) -> None:
        if not self.world.main:
            return
        metrics_log.append(self.metrics_path, record)
        self.on_record(record)

    def meta(self) -> dict:
        """What the checkpoint's config.json says about this run."""
        return {
            "preset": self.cfg.preset, "corpus": self.cfg.corpus, "direction": self.cfg.direction,
            "parameters": self.model.num_parameters(), "steps": self.state.step, "epochs": self.state.epoch,
            "train_minutes": round(self.state.train_seconds / 60, 2),
            "wall_minutes": round(self.state.wall_seconds / 60, 2),
            "best_valid_loss": self.state.best_valid_loss if math.isfinite(self.state.best_valid_loss) else None,
            "device": str(self.device), "processes": self.world.size, "threads": torch.get_num_threads(),
            "torch": torch.__version__, "train_pairs": len(self.data.pairs), "tokens_seen": self.state.tokens_seen,
            "train_config": asdict(self.cfg),
        }

    def close(self) -> None:
        """Leave the process group. DDP's reducer must go first: freeing it after the group can deadlock on exit."""
        if self.world.distributed:
            self.network = self.model
            gc.collect()
            close_world(self.world)

    def save(self) -> None:
        """Write the training checkpoint (weights, optimizer, RNG, state); main process only."""
        if not self.world.main:
            return
        save_checkpoint(self.run_dir / "checkpoint", self.model, self.spec, self.tokenizer, self.meta(),
                        optimizer=self.optimizer, trainer_state=asdict(self.state))

    def save_snapshot(self) -> None:
        """Weights at this evaluation, beside the last `average_last - 1` earlier ones."""
        folder = self.run_dir / "snapshots"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"step-{self.state.step:08d}.tmp"
        save_model(self.model, str(tmp))
        tmp.replace(tmp.with_suffix(".safetensors"))
        for old in snapshot_files(self.run_dir)[: -self.cfg.average_last]:
            old.unlink()

    # ---------------------------------------------------------------- the loop
    def budget_left(self) -> bool:
        """Whether every budget (minutes, tokens, steps, epochs) still has room."""
        cfg, st = self.cfg, self.state
        if cfg.minutes is not None and st.train_seconds >= cfg.minutes * 60:
            return False
        if cfg.max_train_tokens is not None and st.tokens_seen >= cfg.max_train_tokens:
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
        """One optimizer step on one batch; the loss, tokens, gradient norm and learning rate."""
        cfg = self.cfg
        self.network.train()
        examples, weight = self.world.shard(batch)
        src, tgt_in, tgt_out = collate([self.data.src_ids[i] for i in examples],
                                       [self.data.tgt_ids[i] for i in examples], self.device)
        lr = learning_rate(self.state.step + 1, cfg.lr, cfg.warmup_steps, cfg.schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = self.network(src, tgt_in)
        loss_sum = weight * sequence_loss(logits, tgt_out, cfg.label_smoothing)
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
        """Validation loss on the corpus's valid split; greedy BLEU/chrF on its first valid sentences, and on a
        few of every other corpus in the mix (suffixed with the corpus name)."""
        valid_loss = mean_nll(self.model, self.tokenizer, self.valid_pairs)
        translator = Translator(self.model, self.tokenizer)
        record = {"valid_loss": round(valid_loss, 4), "valid_ppl": round(math.exp(min(valid_loss, 50)), 2)}
        for corpus, pairs in {"": self.valid_pairs[: self.cfg.valid_sentences], **self.other_valid}.items():
            hypotheses = [t.text for t in translator.translate([s for s, _ in pairs])]
            scores = corpus_scores(hypotheses, [t for _, t in pairs], metrics=("bleu", "chrf"))
            suffix = f"_{corpus}" if corpus else ""
            record.update({f"valid_bleu{suffix}": scores["bleu"], f"valid_chrf{suffix}": scores["chrf"]})
        return record

    def run_evaluation(self) -> None:
        """Evaluate on the main process; every rank then shares its verdict (for early stopping)."""
        st = self.state
        st.last_eval_step = st.step
        if self.world.main:
            record = {"kind": "eval", "step": st.step, "epoch": st.epoch, "tokens_seen": st.tokens_seen,
                      **self.evaluate(),
                      "train_seconds": round(st.train_seconds, 2), "wall_seconds": round(st.wall_seconds, 2)}
            if record["valid_loss"] < st.best_valid_loss:
                st.best_valid_loss, st.evals_without_improvement = record["valid_loss"], 0
                save_checkpoint(self.run_dir / "best", self.model, self.spec, self.tokenizer, self.meta())
            else:
                st.evals_without_improvement += 1
            if self.cfg.average_last:
                self.save_snapshot()
            self._log(record)
        best, waited = self.world.broadcast(st.best_valid_loss, st.evals_without_improvement)
        st.best_valid_loss, st.evals_without_improvement = best, int(waited)

    def _step(self, batch: list[int], wall_start: float, wall_before: float) -> None:
        st = self.state
        step_start = time.perf_counter()
        out = self.train_step(batch)
        seconds = time.perf_counter() - step_start
        st.step, st.batch_in_epoch, st.train_seconds = st.step + 1, st.batch_in_epoch + 1, st.train_seconds + seconds
        tokens_before, st.tokens_seen = st.tokens_seen, st.tokens_seen + out["tokens"]
        st.wall_seconds = wall_before + time.perf_counter() - wall_start
        self._log({"kind": "step", "step": st.step, "epoch": st.epoch, "loss": round(out["loss"], 4),
                   "tokens": out["tokens"], "tokens_per_s": round(out["tokens"] / seconds, 1),
                   "grad_norm": round(out["grad_norm"], 4), "lr": out["lr"],
                   "tokens_seen": st.tokens_seen, "train_seconds": round(st.train_seconds, 3),
                   "wall_seconds": round(st.wall_seconds, 3)})
        every_tokens = self.cfg.eval_every_tokens
        if (self.cfg.eval_every and st.step % self.cfg.eval_every == 0) or \
                (every_tokens and st.tokens_seen // every_tokens > tokens_before // every_tokens):
            self.run_evaluation()

    def train(self) -> TrainerState:
        """Train until a budget is spent or a stop is asked for, evaluating and checkpointing on the way."""
        cfg, st = self.cfg, self.state
        wall_start, wall_before = time.perf_counter(), st.wall_seconds
        since_checkpoint = 0
        try:
            while not st.finished and self.keep_going():
                batches = self.data.epoch_batches(st.epoch, cfg.max_tokens, cfg.seed)
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
                    if not (cfg.eval_every or cfg.eval_every_tokens):
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
