"""Background training started from the browser: one thread per job, a bounded number at once, shared by all
sessions."""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from engine.paths import DASHBOARD_RUNS_DIR
from engine.shipping import evaluate_checkpoint
from engine.training import TrainConfig, Trainer

MAX_TRAININGS = int(os.environ.get("SEQ2SEQ_MAX_TRAININGS", "1"))
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


class JobManager:
    """The server's background trainings: at most `max_jobs` at once, shared by every session."""
    def __init__(self, runs_dir: Path = DASHBOARD_RUNS_DIR, max_jobs: int = MAX_TRAININGS):
        self.runs_dir, self.max_jobs = runs_dir, max_jobs
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def running(self) -> list[Job]:
        """The jobs whose thread is still alive."""
        return [j for j in self.jobs.values() if j.thread and j.thread.is_alive()]

    def start(self, name: str, config: TrainConfig) -> Job:
        """Start training `name` in the background; JobError (a message for the user) if refused."""
        if not NAME_PATTERN.fullmatch(name):
            raise JobError("Names use lower-case letters, digits and dashes (at most 40), starting with a letter or "
                           "digit.")
        run_dir = (self.runs_dir / name).resolve()
        if run_dir.parent != self.runs_dir.resolve():
            raise JobError("That name is not allowed.")
        with self.lock:
            if len(self.running()) >= self.max_jobs:
                raise JobError(f"The server is busy: {self.max_jobs} training(s) already running. Try again when one "
                               "finishes.")
            if run_dir.exists() or name in self.jobs:
                raise JobError(f"A model called {name!r} exists already; pick another name.")
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
            result = evaluate_checkpoint(job.run_dir / "best", beam=1, limit=EVAL_SENTENCES,
                                         command=f"training page (first {EVAL_SENTENCES} test sentences, greedy)")
            job.status, job.message = "finished", f"test BLEU {result['bleu']} on {EVAL_SENTENCES} sentences"
        except Exception as exc:  # shown on the page; the server keeps running
            job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"


manager = JobManager()  # one per server process, shared by every session
