"""Layer 6, experiments: the speed bench, the Lab's probes and the Playground's toy tasks. Imports training and
everything below it (beside shipping, not on it)."""
