"""The Story page's evidence, read from the files the CLI wrote: one small function per chapter, in the page's
language."""
from __future__ import annotations

from dashboard.i18n import N_, t

# term -> its meaning, both shown through t()
GLOSSARY = {
    N_("recurrent network (RNN)"):
        N_("reads a sentence one word after another, carrying a summary (its state) from each word to the next; LSTM "
           "and GRU are RNNs with gates that decide what to keep"),
    N_("Transformer"):
        N_("reads all words of a sentence at once; attention lets every word look at every other word"),
    N_("attention"):
        N_("a learned weighting of the source words: for each word it writes, the decoder looks back at the words "
           "that matter most"),
    N_("gradient"):
        N_("how much, and in which direction, a weight should change to reduce the error; training follows it"),
    N_("vanishing gradient"):
        N_("a gradient that shrinks a little at each of many steps back through time, until the first words of a "
           "long sentence barely learn"),
    N_("exploding gradient"):
        N_("the opposite: a gradient that grows at each step until training breaks; clipping caps it"),
    N_("positional encoding"):
        N_("a pattern added to each word's vector that tells a Transformer where the word stands"),
    N_("token"): N_("a piece of a word (a subword); models read and write tokens"),
    N_("chrF"):
        N_("a score (0-100) of how many character sequences a translation shares with a human one; kind to near "
           "misses"),
    N_("BLEU"): N_("a score (0-100) of how many word sequences a translation shares with a human one"),
    N_("training tokens"):
        N_("how much text a model has read while learning (source and target tokens together)"),
}


# What the literature established, chapter by chapter: each chapter states it first, then what this server measured.
RESEARCH = {
    "steps": N_("Vaswani et al. (2017, Table 1) count the steps: a recurrent layer needs one per word, one after "
                "another; a self-attention layer needs one for the whole sentence. On 8 GPUs their base Transformer "
                "trained in 12 hours, and their big one set the best English→German score of its day (28.4 BLEU, "
                "over 2 above every earlier system) at a fraction of the training cost of the recurrent systems "
                "before it (their Table 2)."),
    "gradients": N_("Bengio, Simard and Frasconi (1994) showed that a gradient sent back through many recurrent "
                    "steps shrinks, or grows, exponentially. Gated cells, the LSTM (Hochreiter and Schmidhuber 1997) "
                    "and the GRU (Cho et al. 2014), learn to let it pass; Pascanu, Mikolov and Bengio (2013) tamed "
                    "exploding gradients by clipping them."),
    "long": N_("Cho et al. (2014) found that a recurrent encoder–decoder's translations get rapidly worse as "
               "sentences grow; attention (Bahdanau, Cho and Bengio 2015) softened the drop. A Transformer links any "
               "two words in one step (Vaswani et al. 2017, Table 1), and Transformers went on to lead the "
               "translation benchmarks."),
    "parallel": N_("A GPU runs thousands of multiplications at once. A recurrent layer's work for word 2 waits for "
                   "word 1, so it can fill only as many units as one word's step needs; a Transformer's layer "
                   "computes every word at once and fills them all (Vaswani et al. 2017, section 4)."),
}


def gpu_bench(benches: list[dict]) -> dict | None:
    """The newest bench file measured on a GPU, if one is shipped."""
    return next((b for b in benches if b["machine"].get("cuda_device", "cpu") != "cpu"), None)


def training_speed(bench: dict, preset: str, length: int, threads: int | None = None) -> float | None:
    """Training tokens/s of a preset at a sentence length in a bench file (at the bench's thread count unless
    `threads` is given); None if the file has no such row."""
    rows = bench["training"] if threads is None else bench.get("threads", [])
    for row in rows:
        if row["preset"] == preset and row["length"] == length and (threads is None or row["threads"] == threads):
            return row["tokens_per_s"]
    return None


def thread_gains(bench: dict) -> dict[str, float]:
    """Per preset: tokens/s with every thread of the machine ÷ with one thread (the bench's thread-scaling rows)."""
    rows = bench.get("threads", [])
    most = max((r["threads"] for r in rows), default=1)
    gains = {}
    for preset in dict.fromkeys(r["preset"] for r in rows):
        one, many = training_speed(bench, preset, 32, 1), training_speed(bench, preset, 32, most)
        if one and many:
            gains[preset] = many / one
    return gains


def machine_name(bench: dict) -> str:
    """The machine a bench file was measured on, in one line."""
    m = bench["machine"]
    return t("{cpu}, {cores} cores, {threads} threads ({capability}), torch {torch}", cpu=m["cpu"], cores=m["cores"],
             threads=m["threads"], capability=m.get("cpu_capability", "?"), torch=m["torch"])


def machines_side_by_side(benches: dict[str, dict]) -> list[dict]:
    """One row per bench file: its machine, how fast the GRU and our Transformer train on short and long sentences,
    and our Transformer's decoding time against transformers' `generate` and CTranslate2 (ratios within that file)."""
    rows = []
    for name, bench in benches.items():
        row = {t("file"): name, t("machine"): machine_name(bench)}
        for preset, label in (("gru", "GRU"), ("transformer", "Transformer")):
            for length in (32, 256):
                speed = training_speed(bench, preset, length)
                row[t("{model} trains, {length} tokens (tokens/s)", model=label, length=length)] = \
                    round(speed) if speed else None
        ratios = bench.get("ratios", {})
        for search, label in (("greedy", t("greedy")), ("beam5", t("beam 5"))):
            row[t("ours ÷ generate, {search}", search=label)] = \
                ratios.get(f"decode_{search}_b1_24_transformer_over_generate")
            row[t("ours ÷ CTranslate2, {search}", search=label)] = \
                ratios.get(f"decode_{search}_b1_24_transformer_over_ctranslate2_fp32")
        rows.append(row)
    return rows


def attention_gain(evals: dict[str, dict]) -> str | None:
    """The bottleneck chapter's sentence: the GRU with attention against the GRU without, on one test set."""
    if not {"gru", "gru-attn"} <= evals.keys():
        return None
    plain, attn = evals["gru"]["chrf"], evals["gru-attn"]["chrf"]
    if attn > plain:
        return t("Attention raises the GRU's chrF on these test sentences: {without:.1f} without, {with_:.1f} with "
                 "({gain:+.1f}).", without=plain, with_=attn, gain=attn - plain)
    return t("Attention does not raise the GRU's chrF on these test sentences: {without:.1f} without, {with_:.1f} "
             "with ({gain:+.1f}).", without=plain, with_=attn, gain=attn - plain)


def long_sentence_verdict(evals: dict[str, dict], is_recurrent: dict[str, bool | None],
                          focus: str = "transformer") -> str | None:
    """Whether the Transformer beats every recurrent model (`is_recurrent`: model -> whether it is one) on the longest
    test sentences (eval.json 'long_sentences')."""
    long = {n: ev["long_sentences"] for n, ev in evals.items() if ev.get("long_sentences")}
    recurrent = {n: v for n, v in long.items() if is_recurrent.get(n)}
    if focus not in long or not recurrent:
        return None
    best = max(recurrent, key=lambda n: recurrent[n]["chrf"])
    ours, theirs = long[focus]["chrf"], recurrent[best]["chrf"]
    words, count = long[focus]["min_words"], long[focus]["sentences"]
    if ours > theirs:
        return t("On the {count} test sentences of {words} words or more, the {focus} beats every recurrent model: "
                 "chrF {ours:.1f} against {theirs:.1f} for the best of them ({best}).", count=count, words=words,
                 focus=focus, ours=ours, theirs=theirs, best=best)
    return t("On the {count} test sentences of {words} words or more, the {focus} does **not** beat every recurrent "
             "model here: chrF {ours:.1f} against {theirs:.1f} for {best}. These models are small and briefly "
             "trained; the textbook claim is about well-trained ones.", count=count, words=words, focus=focus,
             ours=ours, theirs=theirs, best=best)
