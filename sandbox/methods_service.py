"""Bot API methods about the bot itself: identity, updates, webhooks, commands and files."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sandbox.dispatch import method
from sandbox.errors import ApiError, bad_request

if TYPE_CHECKING:
    from sandbox.emulator import Emulator
    from sandbox.state import BotState

MAX_POLL_TIMEOUT = 50
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
WEBHOOK_CONFLICT = ApiError(
    409,
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first",
)
POLL_CONFLICT = ApiError(
    409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)


@method("getMe")
async def get_me(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Return the bot's User object."""
    return dict(bot.user)


@method("getUpdates")
async def get_updates(emu: Emulator, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-poll for updates; an offset confirms (forgets) every earlier update."""
    if bot.webhook is not None:
        raise WEBHOOK_CONFLICT
    if "allowed_updates" in params:
        bot.allowed_updates = list(params["allowed_updates"])
    offset = params.get("offset")
    if offset is not None and offset < 0:
        bot.pending = bot.pending[offset:]
    elif offset is not None:
        bot.pending = [
            u for u in bot.pending if u["update_id"] >= offset or u["update_id"] in bot.redelivered
        ]
        bot.redelivered.clear()
    limit = min(max(params.get("limit", 100), 1), 100)
    timeout = min(max(params.get("timeout", 0), 0), MAX_POLL_TIMEOUT)
    # A newer getUpdates call ends older waiting ones with 409, as Telegram does.
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.updates_notifier.bump()
    loop_deadline = emu.loop_time() + timeout
    while not bot.pending and bot.webhook is None:
        remaining = loop_deadline - emu.loop_time()
        if remaining <= 0:
            break
        await bot.updates_notifier.wait_beyond(bot.updates_notifier.version, remaining)
        if bot.poll_generation != generation:
            raise POLL_CONFLICT
    return [json.loads(json.dumps(u)) for u in bot.pending[:limit]]


@method("setWebhook")
async def set_webhook(emu: Emulator, bot: BotState, params: dict[str, Any]) -> bool:
    """Set (or with an empty url remove) the webhook; only 127.0.0.1 targets are accepted."""
    url = params.get("url", "")
    if not url:
        return await delete_webhook(emu, bot, params)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in _LOCAL_HOSTS:
        raise bad_request("bad webhook: the sandbox only delivers to http(s)://127.0.0.1")
    secret = params.get("secret_token")
    if secret is not None and not _SECRET_RE.match(secret):
        raise bad_request("secret token contains unallowed characters")
    if params.get("drop_pending_updates"):
        bot.pending.clear()
    if "allowed_updates" in params:
        bot.allowed_updates = list(params["allowed_updates"])
    bot.webhook = {"url": url, "secret_token": secret, "max_connections": params.get("max_connections", 40)}
    bot.last_webhook_error = None
    bot.updates_notifier.bump()
    emu.webhooks.kick(bot)
    return True


@method("deleteWebhook")
async def delete_webhook(emu: Emulator, bot: BotState, params: dict[str, Any]) -> bool:
    """Remove the webhook, optionally dropping pending updates."""
    if params.get("drop_pending_updates"):
        bot.pending.clear()
    bot.webhook = None
    bot.last_webhook_error = None
    bot.updates_notifier.bump()
    return True


@method("getWebhookInfo")
async def get_webhook_info(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Describe the webhook and the number of updates waiting for delivery."""
    info: dict[str, Any] = {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.pending),
    }
    if bot.webhook is not None:
        info.update(
            url=bot.webhook["url"], max_connections=bot.webhook["max_connections"], ip_address="127.0.0.1"
        )
        if bot.allowed_updates:
            info["allowed_updates"] = list(bot.allowed_updates)
    if bot.last_webhook_error is not None:
        info["last_error_date"], info["last_error_message"] = bot.last_webhook_error
    return info


def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), params.get("language_code") or ""


@method("setMyCommands")
async def set_my_commands(emu: Emulator, bot: BotState, params: dict[str, Any]) -> bool:
    """Store the command list for a scope and language."""
    commands = params["commands"]
    if len(commands) > 100:
        raise bad_request("too many commands")  # wording approximated
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_RE.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("command description must be non-empty")  # wording approximated
    key = _commands_key(params)
    if commands:
        bot.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
    else:
        bot.commands.pop(key, None)
    return True


@method("getMyCommands")
async def get_my_commands(emu: Emulator, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the command list stored for a scope and language (no fallback, like Telegram)."""
    return [dict(c) for c in bot.commands.get(_commands_key(params), [])]


@method("deleteMyCommands")
async def delete_my_commands(emu: Emulator, bot: BotState, params: dict[str, Any]) -> bool:
    """Forget the command list of a scope and language."""
    bot.commands.pop(_commands_key(params), None)
    return True


@method("getFile")
async def get_file(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Return the File object with a file_path for the download route."""
    stored = emu.registry.files.get(params["file_id"])
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > 20 * 1024 * 1024:
        raise bad_request("file is too big")
    return stored.file_object()
