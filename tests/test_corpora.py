import gzip

import pytest

from engine.data import corpora


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


def test_dictionary_entries_become_a_lexicon_without_leaking_held_out_sentences(tmp_path):
    source = tmp_path / "de-en"
    lines = [f"Wort{i} {{n}} | Das ist Satz Nummer {i}. :: word{i} | This is sentence number {i}." for i in range(2600)]
    lines += [
        "Bahnhof {m} /Bhf./ | Bahnhöfe {pl} :: railway station [Br.]; train station | railway stations\n",
        "Laie {m} | Laien {pl} :: layman | laymen\n",
        "Satzsammlung {f} | Das ist Satz Nummer 7. Und mehr :: "
        "sentence collection | This is sentence number 7. And more\n",
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts = corpora.build_ding(tmp_path / "out", source)
    load = lambda split: corpora.read_tsv(tmp_path / "out" / f"{split}.tsv.gz")  # noqa: E731
    lexicon, same_lines = load("lexicon"), load("lexicon-heldout-lines")
    assert ("railway station", "Bahnhof") in lexicon  # the /Bhf./ abbreviation is no alternative
    assert ("layman", "Laie") in lexicon and ("laymen", "Laien") in lexicon
    held_out = {s for split in ("valid", "test") for pair in load(split) for s in pair}
    extras = lexicon + same_lines + load("phrases")
    assert not any(h in text for pair in extras for text in pair for h in held_out)  # never equal, never contain
    assert ("This is sentence number 7. And more", "Das ist Satz Nummer 7. Und mehr") not in extras
    # the headwords of held-out sentences' lines are kept apart, so scores can be measured with and without them
    held_out_words = {f"word{i}" for i in range(2600) if f"This is sentence number {i}." in held_out}
    assert {en for en, _ in same_lines} == held_out_words
    assert not held_out_words & {en for en, _ in lexicon}
    assert counts["lexicon"] == len(lexicon) and counts["lexicon-heldout-lines"] == len(same_lines) == 2000


def test_bible_en_de_aligns_verses_and_keeps_every_verse_in_one_split():
    splits = {s: corpora.load_split("bible-en-de", s) for s in corpora.SPLITS}
    assert ("Jesus wept.", "Jesus vergoß Tränen.") in [p for pairs in splits.values() for p in pairs]
    assert sum(len(p) for p in splits.values()) > 30_000
    words = [len(en.split()) for pairs in splits.values() for en, _ in pairs]
    assert sum(words) / len(words) > 20  # the long-sentence corpus
