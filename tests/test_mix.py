"""Training-data mixes: parsing, and a deterministic per-epoch draw that honours the weights."""
import pytest

from engine.data.mix import Source, epoch_indices, parse_mix


def test_a_mix_names_corpora_extras_and_weights():
    assert parse_mix("ding-en-de*3, ding-en-de/lexicon*0.1,bible-en-de") == [
        Source("ding-en-de", "train", 3.0), Source("ding-en-de", "lexicon", 0.1), Source("bible-en-de", "train", 1.0)]
    assert parse_mix("ding-en-de/lexicon")[0].name == "ding-en-de/lexicon"


@pytest.mark.parametrize("bad, message", [("", "names no corpus"), ("nope*2", "unknown corpus"),
                                          ("ding-en-de/nope", "unknown extra"), ("ding-en-de*x", "not a number"),
                                          ("ding-en-de*0", "positive"), ("ding-en-de*nan", "positive")])
def test_a_bad_mix_is_refused_with_a_reason(bad, message):
    with pytest.raises(Exception, match=message):
        parse_mix(bad)


def test_each_epoch_draws_the_weighted_sources_the_same_way_for_the_same_seed():
    sizes, weights = [10, 100], [2.0, 0.25]
    first = epoch_indices(sizes, weights, seed=1, epoch=0)
    assert first == epoch_indices(sizes, weights, seed=1, epoch=0)
    assert sorted(i for i in first if i < 10) == sorted(list(range(10)) * 2)  # every sentence twice
    fraction = [i for i in first if i >= 10]
    assert len(fraction) == 25 and len(set(fraction)) == 25 and all(10 <= i < 110 for i in fraction)
    other_epoch = [i for i in epoch_indices(sizes, weights, seed=1, epoch=1) if i >= 10]
    assert fraction != other_epoch  # a different quarter of the second source next epoch
    assert fraction != [i for i in epoch_indices(sizes, weights, seed=2, epoch=0) if i >= 10]
