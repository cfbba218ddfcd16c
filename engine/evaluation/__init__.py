"""Layer 4, evaluation: the loss, sacrebleu metrics, scoring a checkpoint into eval*.json, and the int8 quality
check. Imports inference, models and data."""
