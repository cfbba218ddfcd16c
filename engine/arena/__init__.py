"""Layer 6, arena: blind battles between translations, votes stored in SQLite or PostgreSQL, and the Bradley–Terry
leaderboard. Imports nothing else of the engine but paths (the page translates; the arena only keeps score)."""
