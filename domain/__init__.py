"""Business rules of dropout-prevention case work. Knows nothing of Telegram, HTTP or SQL."""
