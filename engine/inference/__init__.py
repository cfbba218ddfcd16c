"""Layer 3, inference: decoding (greedy, beam), the Translator, serving many visitors, the decode race's replay and
transformers interop. Imports models and data."""
