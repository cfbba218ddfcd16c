"""Layer 1, data: the corpora, the joint BPE tokenizer, weighted training mixes and batching. Imports only
engine.paths."""
