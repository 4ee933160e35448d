"""Text helpers every stage shares: dates, language, terminal-safe strings."""
