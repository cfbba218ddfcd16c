"""Layer 6, shipping: a run exported as a shipped checkpoint, and shipped sets trained in pieces. Imports training
and everything below it."""
