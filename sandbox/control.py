"""The JSON control API under /_control/: people, chats, limits, faults and counters."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.people import ActionError

if TYPE_CHECKING:
    from sandbox.emulator import Emulator

Route = Callable[[web.Request, dict[str, Any]], Awaitable[Any]]
CHAT = "/_control/bots/{bot}/chats/{user_id}"


def _ok(result: Any, **extra: Any) -> web.Response:
    return web.json_response(
        {"ok": True, "result": result, **extra}, dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def _wrap(route: Route, emu: Emulator) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        body: dict[str, Any] = {}
        if request.body_exists:
            try:
                body = await request.json()
            except ValueError:
                return _fail(400, "body must be JSON")
        try:
            result = await route(request, body if isinstance(body, dict) else {})
            # Chat actions report the chat version right after the action, so a phone can wait for
            # what the bot does next without missing a fast reply.
            if "user_id" in request.match_info:
                bot = emu.registry.find_bot(request.match_info["bot"])
                chat = bot.chats.get(int(request.match_info["user_id"]))
                return _ok(result, chat_version=chat.notifier.version if chat else 0)
            return _ok(result)
        except KeyError as exc:
            return _fail(404, str(exc.args[0]) if exc.args else "not found")
        except (ActionError, ValueError, TypeError) as exc:
            return _fail(400, str(exc))

    return handle


def _decode_data(options: dict[str, Any]) -> dict[str, Any]:
    # Binary payloads travel as base64 in JSON ("data_base64"); the media builders take bytes.
    options = dict(options)
    if "data_base64" in options:
        options["data"] = base64.b64decode(options.pop("data_base64"))
    return options


def add_control_routes(app: web.Application, emu: Emulator) -> None:
    """Register every /_control/ route on the aiohttp app."""
    people = emu.people

    def chat_args(request: web.Request) -> tuple[str, int]:
        return request.match_info["bot"], int(request.match_info["user_id"])

    async def health(request: web.Request, body: dict[str, Any]) -> Any:
        return {"base_url": emu.base_url, "bots": len(emu.registry.bots)}

    async def list_bots(request: web.Request, body: dict[str, Any]) -> Any:
        return [{"token": b.token, **b.user} for b in emu.registry.bots.values()]

    async def create_bot(request: web.Request, body: dict[str, Any]) -> Any:
        bot = emu.create_bot(body.get("token"), body.get("username", "test_bot"), body.get("first_name"))
        return {"token": bot.token, **bot.user}

    async def list_users(request: web.Request, body: dict[str, Any]) -> Any:
        return list(emu.registry.users.values())

    async def create_user(request: web.Request, body: dict[str, Any]) -> Any:
        return people.create_user(**body)

    async def chat(request: web.Request, body: dict[str, Any]) -> Any:
        after = int(request.query.get("after", 0))
        timeout = float(request.query.get("timeout", 0))
        if timeout > 0:
            return await people.wait(*chat_args(request), after, timeout)
        return people.transcript(*chat_args(request), after)

    async def send(request: web.Request, body: dict[str, Any]) -> Any:
        return people.send_text(*chat_args(request), str(body["text"]))

    async def start(request: web.Request, body: dict[str, Any]) -> Any:
        return people.start(*chat_args(request), body.get("payload"))

    async def tap(request: web.Request, body: dict[str, Any]) -> Any:
        location = (float(body.get("latitude", 39.9042)), float(body.get("longitude", 116.4074)))
        return people.tap(
            *chat_args(request), str(body["label"]), message_id=body.get("message_id"), location=location
        )

    async def press_callback(request: web.Request, body: dict[str, Any]) -> Any:
        return people.press_callback(*chat_args(request), int(body["message_id"]), str(body["data"]))

    async def redeliver(request: web.Request, body: dict[str, Any]) -> Any:
        return people.redeliver(request.match_info["bot"], int(body["update_id"]))

    async def send_media(request: web.Request, body: dict[str, Any]) -> Any:
        return people.send_media(*chat_args(request), request.match_info["kind"], **_decode_data(body))

    async def edit(request: web.Request, body: dict[str, Any]) -> Any:
        return people.edit_message(*chat_args(request), int(body["message_id"]), str(body["text"]))

    async def block(request: web.Request, body: dict[str, Any]) -> Any:
        return people.set_blocked(*chat_args(request), bool(body.get("blocked", True)))

    async def get_limits(request: web.Request, body: dict[str, Any]) -> Any:
        return emu.limiter.stats()["config"]

    async def set_limits(request: web.Request, body: dict[str, Any]) -> Any:
        return emu.set_limits(**body)

    async def stats(request: web.Request, body: dict[str, Any]) -> Any:
        return emu.stats()

    async def reset_counters(request: web.Request, body: dict[str, Any]) -> Any:
        emu.reset_counters()
        return True

    async def add_fault(request: web.Request, body: dict[str, Any]) -> Any:
        emu.faults.inject(
            body.get("method", "*"),
            str(body["kind"]),
            int(body.get("count", 1)),
            retry_after=int(body.get("retry_after", 1)),
            delay=float(body.get("delay", 0)),
        )
        return emu.faults.stats()

    async def random_faults(request: web.Request, body: dict[str, Any]) -> Any:
        emu.faults.set_random(**body)
        return emu.faults.stats()

    async def clear_faults(request: web.Request, body: dict[str, Any]) -> Any:
        emu.faults.clear()
        return emu.faults.stats()

    async def get_file(request: web.Request) -> web.StreamResponse:
        stored = emu.registry.files.get(request.match_info["file_id"])
        if stored is None:
            return _fail(404, "unknown file_id")
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    router = app.router
    router.add_get("/_control/health", _wrap(health, emu))
    router.add_get("/_control/bots", _wrap(list_bots, emu))
    router.add_post("/_control/bots", _wrap(create_bot, emu))
    router.add_get("/_control/users", _wrap(list_users, emu))
    router.add_post("/_control/users", _wrap(create_user, emu))
    router.add_get(CHAT, _wrap(chat, emu))
    router.add_post(CHAT + "/send", _wrap(send, emu))
    router.add_post(CHAT + "/start", _wrap(start, emu))
    router.add_post(CHAT + "/tap", _wrap(tap, emu))
    router.add_post(CHAT + "/callback", _wrap(press_callback, emu))
    router.add_post("/_control/bots/{bot}/redeliver", _wrap(redeliver, emu))
    router.add_post(CHAT + "/media/{kind}", _wrap(send_media, emu))
    router.add_post(CHAT + "/edit", _wrap(edit, emu))
    router.add_post(CHAT + "/block", _wrap(block, emu))
    router.add_get("/_control/limits", _wrap(get_limits, emu))
    router.add_post("/_control/limits", _wrap(set_limits, emu))
    router.add_get("/_control/stats", _wrap(stats, emu))
    router.add_post("/_control/stats/reset", _wrap(reset_counters, emu))
    router.add_post("/_control/faults", _wrap(add_fault, emu))
    router.add_post("/_control/faults/random", _wrap(random_faults, emu))
    router.add_delete("/_control/faults", _wrap(clear_faults, emu))
    router.add_get("/_control/files/{file_id}", get_file)
