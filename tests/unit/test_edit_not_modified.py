"""An edit that would leave a message as it is counts as done, not as an error."""

from __future__ import annotations

from typing import Any

import pytest
from telegram.error import BadRequest

from bot.limits import BotRateLimiter, SendLimiter


async def _call(endpoint: str, error: str) -> Any:
    async def callback() -> dict[str, Any]:
        raise BadRequest(error)

    limiter = BotRateLimiter(SendLimiter(1000.0, 10.0), failure_pauses=())
    return await limiter.process_request(callback, (), {}, endpoint, {"chat_id": 1}, None)


async def test_message_is_not_modified_is_a_successful_edit() -> None:
    text = "Message is not modified: specified new message content and reply markup are exactly the same"
    assert await _call("editMessageText", text) is True
    assert await _call("editMessageReplyMarkup", text) is True


async def test_other_bad_requests_still_fail() -> None:
    with pytest.raises(BadRequest):
        await _call("editMessageText", "Message to edit not found")
    with pytest.raises(BadRequest):
        await _call("sendMessage", "Message is not modified")
