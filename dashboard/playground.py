"""The Playground's races in the background: each belongs to the session that started it; the server runs at most
MAX_RACES at once so a classroom cannot swamp it."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from dashboard.i18n import N_, t
from engine.experiments.toy import FAMILIES, ToyModel, ToyRace, ToyTask
from engine.paths import RESULTS_DIR

MAX_RACES = int(os.environ.get("SEQ2SEQ_MAX_RACES", "2"))
MAX_SECONDS = 60  # training seconds per model a visitor may ask for
_slots = threading.BoundedSemaphore(MAX_RACES)

COLUMN_TYPES = {"attention": bool, "width": int, "layers": int, "lr": float, "clip": bool, "init_scale": float,
                "forget_bias": float}  # the rest are text
CONTESTANT_COLUMNS = ("family", "attention", "positional", "width", "layers", "lr", "clip", "optimizer", "init_scale",
                      "forget_bias")


class PlaygroundError(ValueError):
    """A request the page turns down; the message is meant for the visitor."""


@dataclass
class BackgroundRace:
    """A race and the thread that runs it."""
    race: ToyRace
    seconds: float
    thread: threading.Thread | None = None
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return not self.done.is_set()


COLUMNS = [N_("input"), N_("expected")]  # the examples table's column names, shown through widgets.table
TRANSFORMER_NAMES = {"sinusoidal": N_("transformer"), "learned": N_("transformer (learned positions)"),
                     "none": N_("transformer (no positions)")}


def label_of(model: ToyModel) -> str:
    """A contestant's name in the page's language, as ToyModel.label says it in English ("gru + attention, no
    clipping")."""
    if model.family == "transformer":
        name = t(TRANSFORMER_NAMES[model.positional])
    else:
        name = model.family + (t(" + attention") if model.attention else "")
    extras = [t("forget bias {bias:g}", bias=model.forget_bias) if model.family == "lstm" and model.forget_bias else "",
              "" if model.clip else t("no clipping"), "SGD" if model.optimizer == "sgd" else ""]
    return ", ".join([name, *filter(None, extras)])


def contestant_rows(models: tuple[ToyModel, ...]) -> list[dict]:
    """Contestants as editable table rows."""
    return [{column: getattr(m, column) for column in CONTESTANT_COLUMNS} for m in models]


def contestants_from_rows(rows: list[dict]) -> list[ToyModel]:
    """Table rows (as the visitor edited them) to contestants; PlaygroundError names the first bad row."""
    models = []
    for number, row in enumerate(rows, 1):
        values = {k: row.get(k) for k in CONTESTANT_COLUMNS if row.get(k) is not None and row.get(k) == row.get(k)}
        try:
            if values.get("family") not in FAMILIES:  # an empty cell would silently become the default family
                raise ValueError(t("pick a family ({families})", families=", ".join(FAMILIES)))
            models.append(ToyModel(**{k: COLUMN_TYPES.get(k, str)(v) for k, v in values.items()}))
        except (TypeError, ValueError) as exc:
            raise PlaygroundError(t("Model {number}: {why}.", number=number, why=t(exc.args[0]))) from None
    if not 1 <= len(models) <= 4:
        raise PlaygroundError(t("Race one to four models."))
    return models


def start(task: ToyTask, models: list[ToyModel], seconds: float, seed: int) -> BackgroundRace:
    """Start a race in a background thread; PlaygroundError if the server is busy or the request is out of range."""
    if not 1 <= seconds <= MAX_SECONDS:
        raise PlaygroundError(t("Train each model for 1 to {seconds} seconds.", seconds=MAX_SECONDS))
    if not _slots.acquire(blocking=False):
        raise PlaygroundError(t("The server is running {count} playground races for other visitors. Try again in a "
                                "minute.", count=MAX_RACES))
    try:
        background = BackgroundRace(ToyRace(task, models, seed), seconds)
    except Exception:
        _slots.release()
        raise

    def run():
        try:
            background.race.run(seconds)
        except Exception as exc:  # shown on the page; the server keeps running
            background.error = f"{type(exc).__name__}: {exc}"
        finally:
            background.done.set()
            _slots.release()

    background.thread = threading.Thread(target=run, name="playground-race", daemon=True)
    background.thread.start()
    return background


PRESET_CHECKS = RESULTS_DIR / "playground-presets.json"  # written by `python -m engine presets`


def preset_check_sentence(checks: dict | None, name: str) -> str | None:
    """What `python -m engine presets` found for a preset on its machine, in one sentence (None without a record)."""
    runs = [r for r in (checks or {}).get("runs", []) if r["preset"] == name and r["shown_at_end"] is not None]
    if not runs:
        return None
    shown = [r for r in runs if r["shown_at_end"]]
    firsts = sorted(r["first_shown_after_s"] for r in runs if r["first_shown_after_s"] is not None)
    when = t(", first visible after {first:g} to {last:g} s", first=firsts[0], last=firsts[-1]) if firsts else ""
    machine = checks.get("machine", {})
    return t("Checked on {cpu} ({threads} threads): the effect showed in {shown} of {runs} runs with different "
             "seeds{when} (`{file}`, made by `{command}`).", cpu=machine.get("cpu", t("an unnamed machine")),
             threads=machine.get("threads", "?"), shown=len(shown), runs=len(runs), when=when,
             file=PRESET_CHECKS.relative_to(PRESET_CHECKS.parents[1]), command=checks.get("command", ""))
