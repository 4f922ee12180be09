"""The table of emulated Bot API methods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.emulator import Emulator
    from sandbox.state import BotState

Handler = Callable[["Emulator", "BotState", dict[str, Any]], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a coroutine as the implementation of a Bot API method (canonical spec name)."""

    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


def implemented_methods() -> list[str]:
    """Return the names of the methods emulated with real state."""
    # Importing the method modules fills HANDLERS.
    from sandbox import methods_messages, methods_service  # noqa: F401

    return sorted(HANDLERS)
