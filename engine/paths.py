"""Where things live, for the CLI and the dashboard alike: the repository's folders and the shipped models."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"  # corpora, one folder each
CHECKPOINTS_DIR = ROOT / "checkpoints"  # shipped models
RUNS_DIR = ROOT / "runs"  # training runs (not committed)
DASHBOARD_RUNS_DIR = RUNS_DIR / "dashboard"  # models trained from the browser
RESULTS_DIR = ROOT / "results"  # benchmark files and experiment logs
HF_MODELS_DIR = ROOT / "hf-models"  # local transformers translation models (or list them in SEQ2SEQ_HF_MODELS)

SHIPPED = ("gru-attn", "transformer", "hf-marian", "lstm-attn", "gru", "transformer-nopos", "rnn-tanh-attn")


def shown(path: Path) -> str:
    """A path as a command line would name it: relative to the repository when inside it."""
    path = Path(path)
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
