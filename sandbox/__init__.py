"""A local Telegram Bot API emulator with simulated people, plus a browser chat simulator."""

from sandbox.emulator import Emulator
from sandbox.limits import LimitConfig
from sandbox.tokens import fake_token

__all__ = ["Emulator", "LimitConfig", "fake_token"]
