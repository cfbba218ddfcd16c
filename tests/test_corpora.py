import gzip

import pytest

from engine import corpora


@pytest.mark.parametrize("name", list(corpora.CORPORA))
def test_shipped_splits_do_not_share_sentences(name):
    splits = {s: corpora.load_split(name, s) for s in corpora.SPLITS}
    assert len(splits["valid"]) >= 1000 and len(splits["test"]) >= 1000 and len(splits["train"]) > 10_000
    for side in (0, 1):
        seen = {s: {pair[side] for pair in pairs} for s, pairs in splits.items()}
        assert not seen["train"] & seen["valid"]
        assert not seen["train"] & seen["test"]
        assert not seen["valid"] & seen["test"]


def test_directions_swap_columns():
    en_de = corpora.load_split("ding-en-de", "test", "en-de")
    de_en = corpora.load_split("ding-en-de", "test", "de-en")
    assert [(b, a) for a, b in en_de] == de_en
    with pytest.raises(corpora.CorpusError, match="directions"):
        corpora.load_split("ding-en-de", "test", "en-fr")


def test_split_is_deterministic_and_groups_shared_sentences():
    pairs = [(f"Sentence number {i}.", f"Satz Nummer {i}.") for i in range(3000)]
    pairs += [("Sentence number 5.", "Ein anderer Satz."), ("Another one.", "Satz Nummer 7.")]
    first, second = corpora.split_pairs(pairs), corpora.split_pairs(pairs)
    assert first == second
    where = {pair: split for split, items in first.items() for pair in items}
    assert where[("Sentence number 5.", "Ein anderer Satz.")] == where[("Sentence number 5.", "Satz Nummer 5.")]
    assert where[("Another one.", "Satz Nummer 7.")] == where[("Sentence number 7.", "Satz Nummer 7.")]


def test_ding_parsing_rules(tmp_path):
    source = tmp_path / "de-en"
    source.write_text(
        "# comment line\n"
        "Abendessen {n} | Das Abendessen hat mir geschmeckt. :: supper | I enjoyed my supper.\n"
        "Krone {f} | Sie ist an den Euro gekoppelt [econ.]. :: crown | It is pegged/tied to the euro.\n"
        "x | Er hat etw. gesagt. :: x | He said sth.\n"
        "y | Er ist überall bekannt. :: y | He is known all over town / across town.\n"
        "gut | gute Sache; tolle Sache :: good | good thing; great thing\n"
        "a | b :: only one part\n",
        encoding="utf-8",
    )
    sentences, phrases, dropped = corpora.ding_pairs(source)
    assert sentences == [("I enjoyed my supper.", "Das Abendessen hat mir geschmeckt."),
                         ("It is pegged to the euro.", "Sie ist an den Euro gekoppelt.")]
    assert ("good thing", "gute Sache") in phrases
    assert dropped == {"misaligned_lines": 1, "slash_alternatives": 1, "placeholders": 1}


def test_missing_source_package_gives_a_clear_message(tmp_path):
    with pytest.raises(corpora.CorpusError, match="apt-get install trans-de-en"):
        corpora.ding_pairs(tmp_path / "nothing-here")
    with pytest.raises(corpora.CorpusError, match="data build"):
        corpora.load_split("ding-en-de", "train", data_dir=tmp_path)


def test_tsv_round_trip_is_byte_stable(tmp_path):
    pairs = [("a b", "c d"), ("é", "ß")]
    corpora.write_tsv(tmp_path / "x.tsv.gz", pairs)
    first = (tmp_path / "x.tsv.gz").read_bytes()
    corpora.write_tsv(tmp_path / "x.tsv.gz", pairs)
    assert (tmp_path / "x.tsv.gz").read_bytes() == first
    assert corpora.read_tsv(tmp_path / "x.tsv.gz") == pairs
    assert gzip.decompress(first).decode() == "a b\tc d\né\tß\n"
