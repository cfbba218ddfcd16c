import json

import pytest
import torch

from engine.models import model_spec
from engine.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.conftest import tiny_model


@pytest.fixture
def saved(tmp_path, tiny_tokenizer):
    spec = model_spec("transformer", len(tiny_tokenizer), "tiny")
    model = tiny_model("transformer", len(tiny_tokenizer))
    save_checkpoint(tmp_path / "ckpt", model, spec, tiny_tokenizer, {"note": "test"})
    return tmp_path / "ckpt", model


@pytest.mark.parametrize("preset", ["gru-attn", "lstm-attn", "transformer", "hf-marian"])
def test_save_then_load_gives_identical_outputs(tmp_path, tiny_tokenizer, preset):
    spec = model_spec(preset, len(tiny_tokenizer), "tiny")
    model = tiny_model(preset, len(tiny_tokenizer))
    save_checkpoint(tmp_path / "c", model, spec, tiny_tokenizer, {"x": 1})
    loaded, loaded_spec, tokenizer, meta = load_checkpoint(tmp_path / "c")
    src = torch.tensor([[5, 6, 7, 2]])
    tgt = torch.tensor([[1, 8, 9]])
    with torch.no_grad():
        assert torch.equal(model(src, tgt), loaded(src, tgt))
    assert loaded_spec == spec and meta == {"x": 1} and len(tokenizer) == len(tiny_tokenizer)


def test_half_precision_checkpoint_loads_close_to_the_original(tmp_path, tiny_tokenizer):
    spec = model_spec("gru-attn", len(tiny_tokenizer), "tiny")
    model = tiny_model("gru-attn", len(tiny_tokenizer))
    save_checkpoint(tmp_path / "h", model, spec, tiny_tokenizer, half=True)
    loaded = load_checkpoint(tmp_path / "h")[0]
    assert next(loaded.parameters()).dtype == torch.float32
    src, tgt = torch.tensor([[5, 6, 7, 2]]), torch.tensor([[1, 8, 9]])
    with torch.no_grad():
        torch.testing.assert_close(model(src, tgt), loaded(src, tgt), atol=2e-2, rtol=1e-2)
    assert (tmp_path / "h" / "model.safetensors").stat().st_size < 0.6 * 4 * model.num_parameters()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "delete"])
def test_corrupt_weights_give_a_clear_error_naming_the_file(saved, damage):
    path, _ = saved
    weights = path / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "garbage":
        weights.write_bytes(b"\x80\x04\x95 this is a pickle, not safetensors" * 10)
    elif damage == "empty":
        weights.write_bytes(b"")
    else:
        weights.unlink()
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(path)


def test_wrong_shape_version_and_config_are_refused(saved):
    path, _ = saved
    config = json.loads((path / "config.json").read_text())
    config["model"]["config"]["d_model"] = 64
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(path)
    config["format_version"] = 99
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="format_version"):
        load_checkpoint(path)
    config["format_version"] = 1  # the weight names before ffn.up/ffn.down and the fused qkv
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="format_version 1, expected 2 .*older engine's weight names"):
        load_checkpoint(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        load_checkpoint(path)


def test_a_crash_between_the_two_renames_keeps_the_previous_checkpoint(saved):
    path, model = saved
    path.rename(path.with_name("ckpt.old"))  # what a crash after the first rename of a save leaves
    loaded = load_checkpoint(path)[0]
    src, tgt = torch.tensor([[5, 6, 2]]), torch.tensor([[1, 8]])
    with torch.no_grad():
        assert torch.equal(model(src, tgt), loaded(src, tgt))


def test_averaged_weights_are_the_element_wise_mean(tmp_path, tiny_tokenizer):
    from safetensors.torch import save_model

    from engine.models.checkpoint import average_weights

    models = [tiny_model("transformer", len(tiny_tokenizer), seed=s) for s in range(3)]
    for i, m in enumerate(models):
        save_model(m, str(tmp_path / f"{i}.safetensors"))
    mean = average_weights([tmp_path / f"{i}.safetensors" for i in range(3)])
    for name in models[0].state_dict():
        expected = sum(m.state_dict()[name].float() for m in models) / 3
        torch.testing.assert_close(mean[name], expected)
    assert not torch.equal(mean["embed.weight"], models[0].state_dict()["embed.weight"])
    with pytest.raises(CheckpointError, match="no weights"):
        average_weights([])


@pytest.mark.parametrize("preset", ["transformer", "hf-marian"])
def test_averaged_snapshots_load_into_models_with_tied_weights(tmp_path, tiny_tokenizer, preset):
    """safetensors stores Marian's tied embedding and output matrix once; the mean must still load."""
    from safetensors.torch import save_model

    from engine.models.checkpoint import average_weights, load_weights

    models = [tiny_model(preset, len(tiny_tokenizer), seed=s) for s in range(2)]
    for i, m in enumerate(models):
        save_model(m, str(tmp_path / f"{i}.safetensors"))
    target = tiny_model(preset, len(tiny_tokenizer), seed=5)
    load_weights(target, average_weights([tmp_path / "0.safetensors", tmp_path / "1.safetensors"]))
    for (name, a), b, c in zip(target.state_dict().items(), models[0].state_dict().values(),
                               models[1].state_dict().values()):
        torch.testing.assert_close(a, (b + c) / 2, msg=name)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_weights(target, {"nonsense": torch.zeros(1)})
