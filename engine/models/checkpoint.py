"""Checkpoints: a directory of safetensors + JSON, written atomically, never unpickled.

    model.safetensors       weights (fp32, or fp16 for shipped models)
    config.json             {"format_version", "model": spec, "meta": {...}}
    tokenizer.json          the Hugging Face tokenizer
    optimizer.safetensors   optimizer moments and RNG state (training checkpoints only)
    trainer_state.json      step, epoch, budget used, ... (training checkpoints only)
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from engine.data.tokenizer import load_tokenizer, save_tokenizer
from engine.models import Seq2Seq, build_model

FORMAT_VERSION = 2  # 2: Transformer weights ffn.up/ffn.down and a fused self-attention qkv (1: ffn.0/ffn.3, q + kv)
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or incompatible; the message names the file."""


def save_checkpoint(path: Path, model: Seq2Seq, spec: dict, tokenizer, meta: dict | None = None,
                    optimizer: torch.optim.Optimizer | None = None, trainer_state: dict | None = None,
                    half: bool = False) -> None:
    """Write a checkpoint directory atomically: build it beside `path`, then swap it in."""
    path = Path(path)
    tmp, old = path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if half:
            weights = build_model(spec)
            weights.load_state_dict(model.state_dict())
            weights.half()
        else:
            weights = model
        save_model(weights, str(tmp / "model.safetensors"))
        write_json(tmp / "config.json", {"format_version": FORMAT_VERSION, "model": spec, "meta": meta or {}})
        save_tokenizer(tokenizer, tmp / "tokenizer.json")
        if optimizer is not None:
            tensors, groups = flatten_optimizer(optimizer)
            tensors["rng.torch"] = torch.get_rng_state()
            save_file(tensors, str(tmp / "optimizer.safetensors"))
            write_json(tmp / "trainer_state.json", {**(trainer_state or {}), "param_groups": groups})
        fsync_tree(tmp)
    except BaseException as exc:  # e.g. a full disk: the previous checkpoint at `path` is untouched
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, (OSError, SafetensorError)):
            raise CheckpointError(f"{path}: could not save ({first_line(exc)}); "
                                  "the previous checkpoint is kept") from exc
        raise
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    fsync_path(path.parent)
    shutil.rmtree(old, ignore_errors=True)


def resolve(path: Path) -> Path:
    """The checkpoint directory, or the previous one if a crash hit between the two renames of a save."""
    path = Path(path)
    old = path.with_name(path.name + ".old")
    if not path.exists() and old.exists():
        return old
    return path


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[Seq2Seq, dict, object, dict]:
    """(model in eval mode, model spec, tokenizer, meta). Raises CheckpointError naming the bad file."""
    path = resolve(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no checkpoint directory here")
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise CheckpointError(f"{path / name}: missing")
    config = read_json(path / "config.json")
    version = config.get("format_version") if isinstance(config, dict) else None
    if version != FORMAT_VERSION:
        hint = " (an older engine's weight names; retrain, or use the engine that wrote it)" if version == 1 else ""
        raise CheckpointError(f"{path / 'config.json'}: format_version {version!r}, expected {FORMAT_VERSION}{hint}")
    weights = path / "model.safetensors"
    model = build_checked(config.get("model"), weights, path / "config.json")
    try:
        missing, unexpected = load_model(model, str(weights), strict=False, device=device)
    except (SafetensorError, RuntimeError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: unreadable or does not fit the config ({first_line(exc)})") from exc
    if missing or unexpected:
        raise CheckpointError(f"{weights}: weights do not match the config "
                              f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    try:
        tokenizer = load_tokenizer(path / "tokenizer.json")
    except Exception as exc:  # tokenizers raises plain Exception subclasses from Rust
        raise CheckpointError(f"{path / 'tokenizer.json'}: unreadable ({first_line(exc)})") from exc
    if len(tokenizer) != config["model"]["config"].get("vocab_size"):
        raise CheckpointError(f"{path / 'tokenizer.json'}: vocabulary size {len(tokenizer)} does not match the model")
    return model.to(device).eval(), config["model"], tokenizer, config.get("meta", {})


def build_checked(spec, weights: Path, config_path: Path) -> Seq2Seq:
    """Build the model only once the file's tensor names and shapes match the spec (checked on the meta device,
    so a hostile config cannot make us allocate a huge model)."""
    try:
        with torch.device("meta"):
            skeleton = build_model(spec)
    except Exception as exc:  # any malformed spec: wrong keys, types, negative sizes
        raise CheckpointError(f"{config_path}: invalid model spec ({first_line(exc)})") from exc
    try:
        with safe_open(str(weights), framework="pt") as f:
            stored = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: not a safetensors file ({first_line(exc)})") from exc
    expected = {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}
    wrong = sorted(n for n in expected.keys() & stored.keys() if expected[n] != stored[n])
    if wrong:
        name = wrong[0]
        raise CheckpointError(f"{weights}: tensor {name} has shape {stored[name]}, the config needs {expected[name]}")
    return build_model(spec)


def average_weights(paths: list[Path]) -> dict[str, torch.Tensor]:
    """The element-wise mean (fp32) of several safetensors weight files of one model (checkpoint averaging)."""
    if not paths:
        raise CheckpointError("no weights to average")
    total: dict[str, torch.Tensor] = {}
    for path in paths:
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{path}: unreadable ({first_line(exc)})") from exc
        if total and tensors.keys() != total.keys():
            raise CheckpointError(f"{path}: holds other tensors than {paths[0]}")
        for name, tensor in tensors.items():
            total[name] = total[name] + tensor.float() if name in total else tensor.float().clone()
    return {name: tensor / len(paths) for name, tensor in total.items()}


def load_weights(model: Seq2Seq, tensors: dict[str, torch.Tensor]) -> None:
    """Load tensors read from a safetensors file, which stores tied weights once (e.g. Marian's shared embedding
    and output matrix): a name may be missing only if it shares storage with one that is loaded."""
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    state = model.state_dict()
    loaded = {state[name].data_ptr() for name in tensors if name in state}
    untied = sorted(name for name in missing if state[name].data_ptr() not in loaded)
    if unexpected or untied:
        raise CheckpointError(f"weights do not fit the model (missing {untied[:3]}, "
                              f"unexpected {sorted(unexpected)[:3]})")


def load_training_state(path: Path, model: Seq2Seq, optimizer: torch.optim.Optimizer) -> dict:
    """Restore weights, optimizer and RNG from a training checkpoint; returns the trainer state."""
    path = resolve(path)
    state = read_json(path / "trainer_state.json")
    try:
        load_model(model, str(path / "model.safetensors"))
        tensors = load_file(str(path / "optimizer.safetensors"))
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise CheckpointError(f"{path}: cannot resume ({first_line(exc)})") from exc
    torch.set_rng_state(tensors.pop("rng.torch"))
    optimizer.load_state_dict(unflatten_optimizer(tensors, state.pop("param_groups")))
    return state


def flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """The optimizer's tensors under flat names (for safetensors), and its param groups."""
    sd = optimizer.state_dict()
    tensors = {}
    for index, slots in sd["state"].items():
        for key, value in slots.items():
            tensors[f"state.{index}.{key}"] = torch.as_tensor(value).contiguous()
    return tensors, sd["param_groups"]


def unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    """The optimizer state dict that `flatten_optimizer` flattened."""
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": groups}


def read_json(path: Path):
    """A JSON file's content; CheckpointError naming the file if unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not readable JSON ({first_line(exc)})") from exc


def write_json(path: Path, data) -> None:
    """Write JSON and flush it to disk."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_json(path: Path, data) -> None:
    """Write JSON beside the file, then rename it over: readers never see half a file."""
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    write_json(tmp, data)
    os.replace(tmp, path)


def fsync_tree(path: Path) -> None:
    """Flush a directory's files and the directory itself to disk."""
    for file in [*Path(path).iterdir(), Path(path)]:
        fsync_path(file)


def fsync_path(path: Path) -> None:
    """Flush one file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def first_line(exc: BaseException) -> str:
    """An exception's first line (at most 200 characters), for messages."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
