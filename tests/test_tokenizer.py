from transformers import PreTrainedTokenizerFast

from engine.data.tokenizer import EOS_ID, PAD_ID, decode, encode, load_tokenizer, save_tokenizer


def test_round_trip_gives_normal_text(tiny_tokenizer, tiny_pairs):
    for en, de in tiny_pairs[:50]:
        for text in (en, de):
            ids = encode(tiny_tokenizer, [text])[0]
            assert ids[-1] == EOS_ID
            assert decode(tiny_tokenizer, ids) == text


def test_typographic_quotes_and_spaces_are_normalised(tiny_tokenizer):
    ids = encode(tiny_tokenizer, ["  I’ve   been\there. "])[0]
    assert decode(tiny_tokenizer, ids) == "I've been here."


def test_saved_tokenizer_is_a_transformers_tokenizer(tiny_tokenizer, tmp_path):
    save_tokenizer(tiny_tokenizer, tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert isinstance(loaded, PreTrainedTokenizerFast)
    assert loaded.pad_token_id == PAD_ID and loaded.eos_token_id == EOS_ID
    text = "The house is small."
    assert loaded(text)["input_ids"] == tiny_tokenizer(text)["input_ids"]
