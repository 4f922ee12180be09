"""The Telegram channel: python-telegram-bot Application, handlers and conversation rendering."""
