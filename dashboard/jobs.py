"""Background training started from the browser: one thread per job, a bounded number at once, shared by all
sessions."""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.i18n import t
from engine.evaluation.scoring import evaluate_checkpoint
from engine.messages import Message
from engine.paths import DASHBOARD_RUNS_DIR
from engine.training.trainer import TrainConfig, Trainer

MAX_TRAININGS = int(os.environ.get("SEQ2SEQ_MAX_TRAININGS", "1"))
MAX_RUNS = int(os.environ.get("SEQ2SEQ_MAX_RUNS", "20"))  # browser-trained runs kept on disk, newest first
MAX_RUNS_MB = float(os.environ.get("SEQ2SEQ_MAX_RUNS_MB", "500"))  # and at most this much disk for all of them
EVICTED_LOG = "evicted.jsonl"  # in the runs folder: which runs made room, so their owners can be told
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
EVAL_SENTENCES = 300  # test sentences a browser-trained model is scored on


class JobError(ValueError):
    """A request the server turns down; the message is meant for the user."""


@dataclass
class Job:
    """One training started from the browser."""
    name: str
    config: TrainConfig
    run_dir: Path
    stop: threading.Event = field(default_factory=threading.Event)
    status: str = "starting"  # starting, training, evaluating, finished, failed
    message: str = ""
    thread: threading.Thread | None = None


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def started_at(run_dir: Path) -> float:
    """When a run began: its train_config.json is written once, when training starts."""
    config = run_dir / "train_config.json"
    return (config if config.exists() else run_dir).stat().st_mtime


def evict_old_runs(runs_dir: Path, keep: set[str], max_runs: int, max_mb: float) -> list[str]:
    """Delete the oldest runs until at most `max_runs` remain in at most `max_mb` MB; runs named in `keep` (those
    training now) are never deleted, nor is anything outside `runs_dir` (the shipped checkpoints). Each deletion is
    logged in EVICTED_LOG. Returns the deleted names, oldest first."""
    if not runs_dir.is_dir():
        return []
    runs = sorted((p for p in runs_dir.iterdir() if p.is_dir()), key=started_at)
    sizes = {p: folder_bytes(p) for p in runs}
    total, evicted = sum(sizes.values()), []
    for victim in [p for p in runs if p.name not in keep]:
        if len(runs) <= max_runs and total <= max_mb * 2**20:
            break
        shutil.rmtree(victim, ignore_errors=True)
        runs.remove(victim)
        total -= sizes[victim]
        evicted.append(victim.name)
        with open(runs_dir / EVICTED_LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"name": victim.name, "at": time.time()}) + "\n")
    return evicted


def evicted_names(runs_dir: Path = DASHBOARD_RUNS_DIR) -> set[str]:
    """Runs deleted to make room (names may since have been reused)."""
    try:
        lines = (runs_dir / EVICTED_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    return {json.loads(line)["name"] for line in lines if line.strip()}


class JobManager:
    """The server's background trainings: at most `max_jobs` at once, shared by every session; at most
    `max_runs` finished runs in `max_mb` MB kept on disk (the oldest make room)."""
    def __init__(self, runs_dir: Path = DASHBOARD_RUNS_DIR, max_jobs: int = MAX_TRAININGS, max_runs: int = MAX_RUNS,
                 max_mb: float = MAX_RUNS_MB):
        self.runs_dir, self.max_jobs, self.max_runs, self.max_mb = runs_dir, max_jobs, max_runs, max_mb
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def running(self) -> list[Job]:
        """The jobs whose thread is still alive."""
        return [j for j in self.jobs.values() if j.thread and j.thread.is_alive()]

    def start(self, name: str, config: TrainConfig) -> Job:
        """Start training `name` in the background; JobError (a message for the user) if refused."""
        if not NAME_PATTERN.fullmatch(name):
            raise JobError(t("Names use lower-case letters, digits and dashes (at most 40), starting with a letter or "
                             "digit."))
        run_dir = (self.runs_dir / name).resolve()
        if run_dir.parent != self.runs_dir.resolve():
            raise JobError(t("That name is not allowed."))
        with self.lock:
            if len(self.running()) >= self.max_jobs:
                raise JobError(t("The server is busy: {count} training(s) already running. Try again when one "
                                 "finishes.", count=self.max_jobs))
            if run_dir.exists() or (name in self.jobs and self.jobs[name].thread.is_alive()):
                raise JobError(t("A model called {name!r} exists already; pick another name.", name=name))
            self.make_room(extra=1)
            job = Job(name, config, run_dir)
            job.thread = threading.Thread(target=self._run, args=(job,), name=f"train-{name}", daemon=True)
            self.jobs[name] = job
            job.thread.start()
        return job

    def _run(self, job: Job) -> None:
        try:
            job.status = "training"
            Trainer(job.config, job.run_dir, should_stop=job.stop.is_set).train()
            job.status = "evaluating"
            how = f"training page (first {EVAL_SENTENCES} test sentences, greedy)"  # data: the eval file's command
            result = evaluate_checkpoint(job.run_dir / "best", beam=1, limit=EVAL_SENTENCES, command=how)
            job.status, job.message = "finished", Message("test BLEU {bleu} on {count} sentences", bleu=result["bleu"],
                                                          count=EVAL_SENTENCES)
        except Exception as exc:  # shown on the page; the server keeps running
            job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"
        with self.lock:
            self.make_room()

    def make_room(self, extra: int = 0) -> list[str]:
        """Evict the oldest finished runs beyond the limits (`extra`: runs about to be added). Hold `lock`."""
        return evict_old_runs(self.runs_dir, {j.name for j in self.running()}, self.max_runs - extra, self.max_mb)


manager = JobManager()  # one per server process, shared by every session
