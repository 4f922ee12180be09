"""Business rules of dropout-prevention case work. Knows nothing of chat channels, HTTP or SQL."""
