"""The Telegram channel: python-telegram-bot Application, handlers and conversation rendering."""

import os

# PTB 22 moves time periods (RetryAfter.retry_after, …) from int seconds to timedelta and warns on
# every 429 until a program opts in; we read them as timedelta (bot.limits.retry_after).
os.environ.setdefault("PTB_TIMEDELTA", "true")
