"""Toy sequence tasks that train in seconds: the Playground's races between model families.

A task makes (source, target) pairs of symbol ids on the fly, deterministic for a seed. The models are the
translators' own families (`engine.models`), trained with the translators' loss, schedule and clipping; only the
data is synthetic. A race trains two to four models in turns, one step each, so they share the CPU fairly and
their curves advance together.
"""
from __future__ import annotations

import calendar
import functools
import math
import random
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from engine.data.batching import collate
from engine.data.tokenizer import EOS_ID
from engine.evaluation.metrics import sequence_loss
from engine.inference.decoding import greedy_decode
from engine.messages import Message
from engine.models import build_model, model_spec
from engine.training.trainer import learning_rate

FIRST_SYMBOL = 4  # ids 0-3 are PAD, BOS, EOS, UNK (engine.data.tokenizer)
LETTERS = list(string.ascii_letters)  # a-z, then A-Z


def ordinal(day: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    return f"{day}{'th' if 10 <= day <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


MONTHS = list(calendar.month_name)[1:]
ORDINALS = [ordinal(d) for d in range(1, 32)]
DATE_SYMBOLS = MONTHS + ORDINALS + [","] + [str(d) for d in range(10)] + ["-"]
TASKS = {
    "copy": Message("write the letters again, in the same order"),
    "reverse": Message("write the letters backwards"),
    "sort": Message("write the letters in alphabetical order"),
    "remember": Message("write the first two letters of a long sequence (memory across a distance)"),
    "dates": Message("rewrite a date such as 'March 3rd, 2021' as '2021-03-03'"),
}
FAMILIES = ("rnn-tanh", "rnn-relu", "lstm", "gru", "transformer")
POSITIONALS = ("sinusoidal", "learned", "none")
OPTIMIZERS = ("adam", "sgd")
TEST_EXAMPLES = 200  # held-out pairs every evaluation decodes
BATCH = 64  # training pairs per step


@dataclass(frozen=True)
class ToyTask:
    """What to learn: a task name, the longest sequence and how many different letters (copy/reverse/sort).
    The date task has its own fixed vocabulary and lengths."""
    name: str = "reverse"
    length: int = 10
    vocab: int = 10

    def __post_init__(self):
        if self.name not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, not {self.name!r}")
        if not 2 <= self.length <= 100:
            raise ValueError("length must be between 2 and 100")
        if not 2 <= self.vocab <= len(LETTERS):
            raise ValueError(f"vocabulary must be between 2 and {len(LETTERS)} letters")
        if self.distinct_inputs < 5 * TEST_EXAMPLES:
            raise ValueError(f"{self.vocab} different letters in sequences of up to {self.length} make only "
                             f"{self.distinct_inputs} different inputs: too few to keep {TEST_EXAMPLES} apart for "
                             "testing. Use longer sequences or more letters")

    @property
    def distinct_inputs(self) -> int:
        """How many different sources the task can draw."""
        if self.name == "dates":
            return 200 * 365
        return sum(self.vocab ** n for n in range(self.shortest, self.length + 1))

    @property
    def shortest(self) -> int:
        """The fewest letters a source has: memory needs a distance to cross."""
        return max(2, self.length // 2) if self.name == "remember" else 1

    @property
    def symbols(self) -> list[str]:
        return DATE_SYMBOLS if self.name == "dates" else LETTERS[: self.vocab]

    @property
    def vocab_size(self) -> int:
        """Model vocabulary: the special ids and the task's symbols."""
        return FIRST_SYMBOL + len(self.symbols)

    def example(self, rng: random.Random) -> tuple[list[int], list[int]]:
        """One (source, target) pair of symbol ids, each ending in EOS."""
        if self.name == "dates":
            return self._date(rng)
        letters = [rng.randrange(self.vocab) for _ in range(rng.randint(self.shortest, self.length))]
        target = {"copy": letters, "reverse": letters[::-1], "sort": sorted(letters),
                  "remember": letters[:2]}[self.name]
        return [FIRST_SYMBOL + s for s in letters] + [EOS_ID], [FIRST_SYMBOL + s for s in target] + [EOS_ID]

    def _date(self, rng: random.Random) -> tuple[list[int], list[int]]:
        year, month = rng.randint(1900, 2099), rng.randint(1, 12)
        day = rng.randint(1, calendar.monthrange(year, month)[1])
        words = [MONTHS[month - 1], ORDINALS[day - 1], ","] + list(str(year))
        iso = list(f"{year:04d}-{month:02d}-{day:02d}")
        return self.ids(words) + [EOS_ID], self.ids(iso) + [EOS_ID]

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {s: FIRST_SYMBOL + i for i, s in enumerate(self.symbols)}

    def ids(self, symbols: list[str]) -> list[int]:
        return [self._index[s] for s in symbols]

    def render(self, ids: list[int]) -> str:
        """Symbol ids as text ("c a b", "March 3rd, 2021", "2021-03-03"); EOS and anything unknown dropped."""
        symbols = [self.symbols[i - FIRST_SYMBOL] for i in ids if FIRST_SYMBOL <= i < self.vocab_size]
        if self.name != "dates":
            return " ".join(symbols)
        if symbols and symbols[0] in MONTHS:
            return " ".join(symbols[:2]) + "".join(symbols[2:3]) + " " + "".join(symbols[3:])
        return "".join(symbols)


def held_out_pairs(task: ToyTask, seed: int) -> list[tuple[list[int], list[int]]]:
    """The held-out pairs (distinct sources), the same for a task and seed."""
    rng, seen, pairs = random.Random(f"test-{seed}"), set(), []
    for _ in range(20 * TEST_EXAMPLES):
        src, tgt = task.example(rng)
        if tuple(src) not in seen:
            seen.add(tuple(src))
            pairs.append((src, tgt))
        if len(pairs) == TEST_EXAMPLES:
            break
    return pairs


@dataclass(frozen=True)
class ToyModel:
    """One contestant: an engine model family at toy size, and how it trains."""
    family: str = "gru"
    attention: bool = True  # recurrent families: a decoder that looks back at every source position
    positional: str = "sinusoidal"  # transformer: how it sees word order
    width: int = 64
    layers: int = 1
    lr: float = 3e-3
    clip: bool = True  # clip the gradient norm at 1
    optimizer: str = "adam"  # adam (AdamW) or sgd (plain steps: exploding gradients hit hard)
    init_scale: float = 1.0  # recurrent weights start orthogonal x this; above 1 signals grow at every step
    forget_bias: float = 0.0  # lstm: initial forget-gate bias; 1 keeps the memory open from the start

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(Message("family must be one of {families}", families=", ".join(FAMILIES)))
        if self.positional not in POSITIONALS:
            raise ValueError(Message("positional must be one of {choices}", choices=", ".join(POSITIONALS)))
        if not (8 <= self.width <= 256 and self.width % 4 == 0 and 1 <= self.layers <= 4):
            raise ValueError(Message("width must be a multiple of 4 between 8 and 256, layers 1 to 4"))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(Message("optimizer must be one of {choices}", choices=", ".join(OPTIMIZERS)))
        if not 1e-5 <= self.lr <= 1.0:
            raise ValueError(Message("learning rate must be between 0.00001 and 1"))
        if not 0.1 <= self.init_scale <= 4.0:
            raise ValueError(Message("the recurrent weight scale must be between 0.1 and 4"))
        if not -5 <= self.forget_bias <= 5:
            raise ValueError(Message("the forget bias must be between -5 and 5"))

    @property
    def label(self) -> str:
        if self.family == "transformer":
            name = {"sinusoidal": "transformer", "learned": "transformer (learned positions)",
                    "none": "transformer (no positions)"}[self.positional]
        else:
            name = self.family + (" + attention" if self.attention else "")
        extras = [f"forget bias {self.forget_bias:g}" if self.family == "lstm" and self.forget_bias else "",
                  "" if self.clip else "no clipping", "SGD" if self.optimizer == "sgd" else ""]
        return ", ".join([name, *filter(None, extras)])

    def spec(self, vocab_size: int) -> dict:
        """The engine model spec: a left-to-right recurrent encoder (so distance counts), no dropout."""
        if self.family == "transformer":
            preset = {"sinusoidal": "transformer", "learned": "transformer-learned", "none": "transformer-nopos"}
            return model_spec(preset[self.positional], vocab_size, d_model=self.width, heads=4, ffn=2 * self.width,
                              encoder_layers=self.layers, decoder_layers=self.layers, dropout=0.0,
                              attention_dropout=0.0, activation_dropout=0.0, max_len=128,
                              norm_first=True)  # as when results/playground-presets.json was measured
        preset = "rnn-relu-attn" if self.family == "rnn-relu" else self.family + "-attn"
        return model_spec(preset, vocab_size, emb_dim=self.width, hidden=self.width, layers=self.layers,
                          dropout=0.0, bidirectional=False, attention="luong" if self.attention else "none")


def evaluate(model, task: ToyTask, pairs: list[tuple[list[int], list[int]]]) -> dict:
    """Greedy outputs of the held-out pairs: whole-sequence accuracy, per-position accuracy, accuracy by length,
    and the teacher-forced loss."""
    model.eval()
    src, tgt_in, tgt_out = collate([s for s, _ in pairs], [t for _, t in pairs])
    with torch.inference_mode():
        loss = sequence_loss(model(src, tgt_in), tgt_out, reduction="mean").item()
        outputs = greedy_decode(model, src, max_length=max(len(t) for _, t in pairs) + 2)
    correct_by_length: dict[int, list[bool]] = {}
    right = total = 0
    for (source, target), output in zip(pairs, outputs):
        correct_by_length.setdefault(len(source) - 1, []).append(output == target[:-1])
        right += sum(a == b for a, b in zip(output, target[:-1]))
        total += len(target) - 1
    flat = [ok for oks in correct_by_length.values() for ok in oks]
    return {"accuracy": sum(flat) / len(flat), "token_accuracy": right / total, "test_loss": loss,
            "accuracy_by_length": {n: sum(oks) / len(oks) for n, oks in sorted(correct_by_length.items())},
            "outputs": outputs}


@dataclass
class Contestant:
    """A model in a race with its optimizer, data stream and history."""
    setup: ToyModel
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    rng: random.Random
    steps: int = 0
    seconds: float = 0.0  # time in its own training steps (evaluation excluded)
    history: list[dict] = field(default_factory=list)  # one record per evaluation
    latest: dict = field(default_factory=dict)  # the newest evaluation (with outputs and accuracy by length)
    failed: str = ""  # why it stopped early (the loss became inf or NaN)
    since_record: list[tuple[float, float]] = field(default_factory=list)  # (loss, gradient norm) per step


WARMUP_STEPS = 50


class ToyRace:
    """Two to four models learning one task, one step each in turn, with the same seed and data order."""

    def __init__(self, task: ToyTask, setups: list[ToyModel], seed: int = 0, eval_every_seconds: float = 2.0):
        if not 1 <= len(setups) <= 4:
            raise ValueError("a race has one to four models")
        self.task, self.seed, self.eval_every = task, seed, eval_every_seconds
        self.test = held_out_pairs(task, seed)
        self.held_out = {tuple(s) for s, _ in self.test}
        self.contestants = []
        for setup in setups:
            torch.manual_seed(seed)
            model = build_model(setup.spec(task.vocab_size))
            with torch.no_grad():
                for name, weight in model.named_parameters():
                    if "weight_hh" in name:
                        weight.mul_(setup.init_scale)
                    if setup.family == "lstm" and "bias_ih" in name:  # gates in torch's order: input, forget, ...
                        weight.chunk(4)[1].fill_(setup.forget_bias)
            optimizer = (torch.optim.SGD(model.parameters(), lr=setup.lr) if setup.optimizer == "sgd" else
                         torch.optim.AdamW(model.parameters(), lr=setup.lr, weight_decay=0.0))
            self.contestants.append(Contestant(setup, model, optimizer, random.Random(f"train-{seed}")))
        self.lock = threading.Lock()  # guards the histories while a page reads them
        self.stop = threading.Event()
        self.finished = False

    def batch(self, rng: random.Random):
        """BATCH fresh training pairs, never one of the held-out sources."""
        pairs = []
        while len(pairs) < BATCH:
            src, tgt = self.task.example(rng)
            if tuple(src) not in self.held_out:
                pairs.append((src, tgt))
        return collate([s for s, _ in pairs], [t for _, t in pairs])

    def train_step(self, c: Contestant) -> None:
        src, tgt_in, tgt_out = self.batch(c.rng)  # [B, S], [B, T], [B, T]
        start = time.perf_counter()
        c.model.train()
        lr = learning_rate(c.steps + 1, c.setup.lr, WARMUP_STEPS, "constant")
        for group in c.optimizer.param_groups:
            group["lr"] = lr
        loss = sequence_loss(c.model(src, tgt_in), tgt_out, reduction="mean")
        c.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(c.model.parameters(), 1.0 if c.setup.clip else math.inf).item()
        loss_value = loss.item()
        if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
            c.failed = f"the loss or gradient became infinite at step {c.steps + 1}"
        else:
            c.optimizer.step()
        c.steps += 1
        c.seconds += time.perf_counter() - start
        c.since_record.append((loss_value, grad_norm))

    def record(self, c: Contestant) -> None:
        result = evaluate(c.model, self.task, self.test)
        row = {"model": c.setup.label, "step": c.steps, "seconds": round(c.seconds, 2),
               "accuracy": result["accuracy"], "token_accuracy": result["token_accuracy"],
               "test_loss": result["test_loss"]}
        if c.since_record:  # training loss: mean since the last record; gradient norm: its largest (spikes show)
            row["train_loss"] = sum(loss for loss, _ in c.since_record) / len(c.since_record)
            row["grad_norm"] = max(norm for _, norm in c.since_record)
            c.since_record.clear()
        with self.lock:
            c.history.append(row)
            c.latest = result

    def run(self, seconds: float = 30.0, max_steps: int | None = None,
            on_progress: Callable[[], None] = lambda: None) -> None:
        """Train every model for `seconds` of its own step time (or `max_steps` steps), evaluating about every
        `eval_every_seconds`; stops early when `stop` is set."""
        for c in self.contestants:
            self.record(c)
        next_eval = {id(c): self.eval_every for c in self.contestants}
        while not self.stop.is_set():
            active = [c for c in self.contestants if not c.failed and c.seconds < seconds
                      and (max_steps is None or c.steps < max_steps)]
            if not active:
                break
            for c in active:
                self.train_step(c)
                if c.failed or c.seconds >= next_eval[id(c)] or c.seconds >= seconds or c.steps == max_steps:
                    self.record(c)
                    next_eval[id(c)] = c.seconds + self.eval_every
                    on_progress()
        self.finished = True

    def snapshot(self) -> list[dict]:
        """Every evaluation so far, all models (a copy, safe to read while the race runs)."""
        with self.lock:
            return [row for c in self.contestants for row in c.history]

    def latest(self) -> list[tuple[ToyModel, dict]]:
        with self.lock:
            return [(c.setup, c.latest) for c in self.contestants]


@dataclass(frozen=True)
class Preset:
    """A one-click experiment behind one claim: the task, the contestants, the seconds each trains, and what to
    look for. `expect` = (better model, worse model, metric, margin) is what the run should show; the tests check it
    on several seeds with a budget of `steps` (a step count holds on any machine)."""
    title: str
    claim: str
    look_for: str
    task: ToyTask
    models: tuple[ToyModel, ...]
    seconds: float
    steps: int
    expect: tuple[int, int, str, float] | None = None

    def outcome(self, finals: list[dict]) -> tuple[bool, str] | None:
        """Whether a race's final evaluations (one per model, in order) show the claim, in a sentence."""
        if not self.expect or len(finals) != len(self.models):
            return None
        better, worse, metric, margin = self.expect
        if metric == "test_loss":  # lower is better
            shown = finals[better][metric] <= finals[worse][metric] - margin
            return shown, Message("held-out loss (lower is better) {better:.2f} for {better_model}, {worse:.2f} for "
                                  "{worse_model}", better=finals[better][metric], worse=finals[worse][metric],
                                  better_model=self.models[better].label, worse_model=self.models[worse].label)
        shown = finals[better][metric] >= finals[worse][metric] + margin
        return shown, Message("{better_model}: {better:.0%} of sequences entirely right, {worse_model}: {worse:.0%}",
                              better=finals[better][metric], worse=finals[worse][metric],
                              better_model=self.models[better].label, worse_model=self.models[worse].label)


PRESETS = {  # title, claim and what to look for are Messages: the dashboard shows them in the visitor's language
    "word-order": Preset(
        Message("No positions: a bag of words"),
        Message("A Transformer without positional encodings cannot tell word order."),
        Message("Both Transformers see the same letters; only one knows where each stands. The one without positions "
                "cannot learn to reverse."),
        ToyTask("reverse", 8, 10), (ToyModel("transformer"), ToyModel("transformer", positional="none")),
        seconds=20, steps=300, expect=(0, 1, "accuracy", 0.5)),
    "order-free": Preset(
        Message("Sorting needs no positions"), Message("When order does not matter, positions are not needed."),
        Message("Sorting only depends on which letters are there, not where: here the Transformer without positions "
                "learns as well as the one with them. Compare with the word-order preset."),
        ToyTask("sort", 8, 10), (ToyModel("transformer"), ToyModel("transformer", positional="none")),
        seconds=20, steps=400),
    "bottleneck": Preset(
        Message("The fixed-size bottleneck"),
        Message("Without attention, a recurrent model squeezes the whole input into one vector."),
        Message("The GRU without attention must carry all 30 letters in one state vector; with attention it looks "
                "back at each letter. Watch accuracy by length: without attention it falls as sequences grow."),
        ToyTask("copy", 30, 10), (ToyModel("gru", attention=False), ToyModel("gru")), seconds=25, steps=400,
        expect=(1, 0, "accuracy", 0.4)),
    "vanishing": Preset(
        Message("Vanishing gradients"),
        Message("A plain tanh RNN cannot learn across long distances; gated cells can."),
        Message("The first two letters must survive 20 to 40 steps. The gated GRU learns it; the plain tanh RNN's "
                "gradient fades over the distance and it stays at chance. On this CPU the LSTM (forget-gate bias 0) "
                "needs far longer than 20 seconds: try it with a forget bias of 1, or 60 seconds."),
        ToyTask("remember", 40, 8),
        (ToyModel("rnn-tanh", attention=False), ToyModel("lstm", attention=False), ToyModel("gru", attention=False)),
        seconds=20, steps=600, expect=(2, 0, "accuracy", 0.4)),
    "exploding": Preset(
        Message("Exploding gradients and clipping"),
        Message("Gradients that grow through time wreck training unless clipped."),
        Message("Both ReLU RNNs start with recurrent weights twice too large, so signals grow at every step, and "
                "train with plain SGD. Without clipping, the first huge gradients take one giant step that kills the "
                "network's units: its held-out loss stays flat at chance. With clipping, gradients just as large (the "
                "chart shows them before clipping) only take a bounded step, and its loss keeps falling. (Neither "
                "gets many answers entirely right within a minute: watch the loss.)"),
        ToyTask("remember", 20, 8),
        tuple(ToyModel("rnn-relu", attention=False, lr=0.1, optimizer="sgd", init_scale=2.0, clip=clip)
              for clip in (False, True)),
        seconds=20, steps=2000, expect=(1, 0, "test_loss", 0.15)),
}


def check_preset(name: str, seed: int = 0) -> dict:
    """Run a preset as the Playground does (its seconds, an evaluation about every second) and say when its claim
    first showed: wall seconds from the start, and the final figures."""
    preset = PRESETS[name]
    race = ToyRace(preset.task, list(preset.models), seed=seed, eval_every_seconds=1.0)
    start, first_shown = time.perf_counter(), None

    def on_progress():
        nonlocal first_shown
        finals = [c.history[-1] for c in race.contestants]
        outcome = preset.outcome(finals)
        if first_shown is None and outcome and outcome[0]:
            first_shown = round(time.perf_counter() - start, 1)

    race.run(preset.seconds, on_progress=on_progress)
    finals = [c.history[-1] for c in race.contestants]
    outcome = preset.outcome(finals)
    return {"preset": name, "seed": seed, "seconds_per_model": preset.seconds,
            "wall_seconds": round(time.perf_counter() - start, 1), "first_shown_after_s": first_shown,
            "shown_at_end": outcome[0] if outcome else None, "figures": outcome[1] if outcome else None,
            "steps": {c.setup.label: c.steps for c in race.contestants},
            "accuracy": {c.setup.label: round(c.history[-1]["accuracy"], 3) for c in race.contestants}}
