"""aiohttp routes speaking the Bot API wire format: /bot<token>/<method> and /file/bot<token>/<path>."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from sandbox.dispatch import HANDLERS
from sandbox.errors import NOT_FOUND, UNAUTHORIZED, ApiError, bad_request, too_many_requests
from sandbox.faults import Fault
from sandbox.validation import Upload, method_returns, resolve_method, validate_params

if TYPE_CHECKING:
    from sandbox.emulator import Emulator

log = logging.getLogger(__name__)
MAX_BODY = 60 * 1024 * 1024
# What Telegram's front proxy answers on a 502: an HTML page, not JSON.
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def error_response(error: ApiError) -> web.Response:
    """Return the HTTP response for an ApiError."""
    return _json(error.payload(), status=error.code)


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Collect parameters from the query string and a JSON, urlencoded or multipart body."""
    params: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if not request.body_exists:
        return params, uploads
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise bad_request("can't parse JSON object") from exc
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        params.update(body)
    elif request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename is not None:
                uploads[part.name] = Upload(
                    bytes(await part.read()), part.filename, part.headers.get("Content-Type")
                )
            else:
                params[part.name] = await part.text()
    else:
        form = await request.post()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params, uploads


async def _apply_fault(
    emu: Emulator, request: web.Request, fault: Fault, method: str, bot_id: int, chat_id: Any
) -> web.StreamResponse | None:
    """Answer with the fault, or return None to go on (after a delay) with the real call."""
    if fault.kind in ("delay", "timeout"):
        await asyncio.sleep(fault.delay)
        return None
    if fault.kind == "500":
        return _json({"ok": False, "error_code": 500, "description": "Internal Server Error"}, 500)
    if fault.kind == "502":
        return web.Response(status=502, text=NGINX_502, content_type="text/html")
    if fault.kind == "429":
        emu.limiter.record_429(bot_id, method, None if chat_id is None else str(chat_id))
        return error_response(too_many_requests(fault.retry_after))
    if request.transport is not None:  # "drop": close the connection without any response
        request.transport.close()
    return web.Response(status=500)


async def bot_api(emu: Emulator, request: web.Request) -> web.StreamResponse:
    """Handle one Bot API call."""
    bot = emu.registry.bot_by_token(request.match_info["token"])
    if bot is None:
        return error_response(UNAUTHORIZED)
    method = resolve_method(request.match_info["method"])
    if method is None:
        return error_response(NOT_FOUND)
    emu.calls[method] += 1
    try:
        raw, uploads = await read_params(request)
    except ApiError as error:
        return error_response(error)
    fault = emu.faults.next_fault(method)
    if fault is not None:
        response = await _apply_fault(emu, request, fault, method, bot.id, raw.get("chat_id"))
        if response is not None:
            return response
    try:
        params = validate_params(method, raw, uploads)
        handler = HANDLERS.get(method)
        if handler is None:
            return _unimplemented(emu, method)
        taken = emu.limiter.check(bot.id, method, params.get("chat_id"))
        try:
            result = await handler(emu, bot, params)
        except ApiError:
            emu.limiter.refund(taken)
            raise
    except ApiError as error:
        return error_response(error)
    return _json({"ok": True, "result": result})


def _unimplemented(emu: Emulator, method: str) -> web.Response:
    # Methods that only return True are answered as harmless no-ops; anything else would need state.
    emu.unimplemented_calls[method] += 1
    if method_returns(method) == ["Boolean"]:
        return _json({"ok": True, "result": True})
    return _json(
        {
            "ok": False,
            "error_code": 501,
            "description": f"Not Implemented: {method} is not emulated by the sandbox",
        },
        501,
    )


async def download(emu: Emulator, request: web.Request) -> web.StreamResponse:
    """Serve a stored file at /file/bot<token>/<file_path>, as Telegram's file server does."""
    if emu.registry.bot_by_token(request.match_info["token"]) is None:
        return error_response(UNAUTHORIZED)
    stored = emu.registry.files.by_path(request.match_info["path"])
    if stored is None:
        return error_response(NOT_FOUND)
    return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")


def build_app(emu: Emulator) -> web.Application:
    """Return the aiohttp application with Bot API, file and control routes."""
    from sandbox import methods_messages, methods_service  # noqa: F401  (fills HANDLERS)
    from sandbox.control import add_control_routes

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/bot{token}/{method}", functools.partial(bot_api, emu))
    app.router.add_get("/file/bot{token}/{path:.+}", functools.partial(download, emu))
    add_control_routes(app, emu)
    return app
