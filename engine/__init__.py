"""Seq2Seq Arena engine: corpora, tokenizers, translator models, training, decoding and evaluation."""
