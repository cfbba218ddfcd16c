"""Layer 5, training: the training loop and its config, the metrics log, DistributedDataParallel. Imports
evaluation (validation), inference, models and data."""
