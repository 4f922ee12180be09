"""A FastAPI router serving /simulator: a browser phone chat driving the emulator's simulated people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel

from sandbox.emulator import Emulator
from sandbox.errors import ApiError
from sandbox.people import ActionError

STATIC = Path(__file__).with_name("static")
_ASSETS = {"simulator.js": "text/javascript", "simulator.css": "text/css"}
ListPeople = Callable[[], Awaitable[list[dict[str, Any]]]]


class OpenChat(BaseModel):
    telegram_user_id: int


class TextIn(BaseModel):
    text: str


class TapIn(BaseModel):
    label: str
    message_id: int | None = None


class LocationIn(BaseModel):
    latitude: float
    longitude: float


def simulator_router(
    emulator: Emulator, list_people: ListPeople, *, bot: str | int | None = None, prefix: str = "/simulator"
) -> APIRouter:
    """Return the router; `list_people` yields dicts with telegram_user_id, name, role_label, language
    and optionally start_payload; `bot` picks the hosted bot (default: the first one)."""
    router = APIRouter()
    people = emulator.people

    def bot_key() -> int:
        if bot is not None:
            return emulator.bot(bot).id
        if not emulator.registry.bots:
            raise HTTPException(503, "the emulator hosts no bot yet")
        return next(iter(emulator.registry.bots.values())).id

    def guarded(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ActionError as exc:
            raise HTTPException(400, str(exc)) from exc

    @router.get(prefix, response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        html = (STATIC / "simulator.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("{{PREFIX}}", prefix))

    @router.get(prefix + "/static/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in _ASSETS:
            raise HTTPException(404)
        return FileResponse(STATIC / name, media_type=_ASSETS[name])

    @router.get(prefix + "/api/people")
    async def list_all() -> list[dict[str, Any]]:
        """List the people one can act as."""
        return [dict(p) for p in await list_people()]

    @router.post(prefix + "/api/open")
    async def open_chat(body: OpenChat) -> dict[str, Any]:
        """Open a person's chat: create them on the emulator if needed and press START once."""
        person = next(
            (p for p in await list_people() if int(p["telegram_user_id"]) == body.telegram_user_id), None
        )
        if person is None:
            raise HTTPException(404, "unknown person")
        uid = body.telegram_user_id
        if uid not in emulator.registry.users:
            people.create_user(
                uid, first_name=str(person.get("name") or uid), language_code=person.get("language") or None
            )
        key = bot_key()
        chat = emulator.registry.chat(emulator.bot(key), uid)
        if not chat.started:
            people.start(key, uid, person.get("start_payload") or None)
        return people.transcript(key, uid)

    @router.get(prefix + "/api/chat/{uid}")
    async def chat(uid: int, known: int = -1) -> dict[str, Any]:
        """Return the whole chat, or just the version when the caller already has it."""
        version = guarded(lambda: emulator.registry.chat(emulator.bot(bot_key()), uid).notifier.version)
        if version == known:
            return {"version": known, "unchanged": True}
        return guarded(lambda: people.transcript(bot_key(), uid))

    @router.post(prefix + "/api/chat/{uid}/send")
    async def send(uid: int, body: TextIn) -> dict[str, Any]:
        """Send text typed by the person."""
        if not body.text.strip():
            raise HTTPException(400, "empty message")
        return guarded(lambda: people.send_text(bot_key(), uid, body.text))

    @router.post(prefix + "/api/chat/{uid}/tap")
    async def tap(uid: int, body: TapIn) -> dict[str, Any]:
        """Tap an inline or reply-keyboard button."""
        return guarded(lambda: people.tap(bot_key(), uid, body.label, message_id=body.message_id))

    @router.post(prefix + "/api/chat/{uid}/photo")
    async def photo(
        uid: int, file: Annotated[UploadFile, File()], caption: Annotated[str, Form()] = ""
    ) -> dict[str, Any]:
        """Send an uploaded picture as a photo."""
        data = await file.read()
        try:
            return guarded(
                lambda: people.send_media(bot_key(), uid, "photo", data=data, caption=caption or None)
            )
        except ApiError as exc:  # Pillow could not read it: tell the page instead of a 500
            raise HTTPException(400, "not an image") from exc

    @router.post(prefix + "/api/chat/{uid}/location")
    async def location(uid: int, body: LocationIn) -> dict[str, Any]:
        """Share a typed location."""
        return guarded(
            lambda: people.send_media(
                bot_key(), uid, "location", latitude=body.latitude, longitude=body.longitude
            )
        )

    @router.get(prefix + "/api/file/{file_id}")
    async def file(file_id: str) -> Response:
        """Serve stored bytes (photos, documents) from the emulator."""
        stored = emulator.registry.files.get(file_id)
        if stored is None:
            raise HTTPException(404, "unknown file")
        return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")

    return router
