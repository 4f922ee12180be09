"""The browser simulator's 企业微信 side: /simulator/api/wecom/…, acting as the WeCom emulator's members.

Mounted beside sandbox.simulator's router (same page, a channel switch per person). A member's text,
photo, location and card taps are posted to the product's callback by the emulator, signed and
encrypted; the chat shows what the app sent the member (text, template cards, files)."""

from __future__ import annotations

import io
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.responses import Response
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel

from bot.wecom.xml_fields import parse_fields
from sandbox.simulator import ListPeople
from sandbox.wecom.emulator import WeComEmulator
from sandbox.wecom.members import Delivery, Member
from sandbox.wecom.transcript import Transcripts, button_key


class OpenMember(BaseModel):
    userid: str


class TextIn(BaseModel):
    text: str


class TapIn(BaseModel):
    label: str
    message_id: str


class LocationIn(BaseModel):
    latitude: float
    longitude: float


def wecom_simulator_router(
    emulator: WeComEmulator, list_people: ListPeople, *, prefix: str = "/simulator"
) -> APIRouter:
    """`list_people` yields dicts as for sandbox.simulator, with `wecom_userid` and, while the person is
    not bound on WeCom, `wecom_code` (their invite code, sent as text when the chat is first opened)."""
    router = APIRouter()
    api = prefix + "/api/wecom"
    transcripts = Transcripts()

    def member(userid: str) -> Member:
        try:
            return emulator.member(userid)
        except KeyError as exc:
            raise HTTPException(404, "unknown member") from exc

    def chat(userid: str) -> dict[str, Any]:
        return transcripts.chat(emulator.state, userid, api + "/media")

    async def say(someone: Member, delivery: Awaitable[Delivery], **content: Any) -> dict[str, Any]:
        """Shows the message at once, then posts it; the chat tells whether the product took it."""
        said = transcripts.add(someone.userid, emulator.now(), **content)
        done = await delivery
        said.delivered = done.delivered
        return chat(someone.userid)

    @router.post(api + "/open")
    async def open_chat(body: OpenMember) -> dict[str, Any]:
        """Open a member's chat: add them to the app's visible range if needed; an unbound person sends
        their invite code once, as a WeCom member binds."""
        person = next((p for p in await list_people() if p.get("wecom_userid") == body.userid), None)
        if person is None:
            raise HTTPException(404, "unknown person")
        if body.userid not in emulator.state.members:
            emulator.add_member(body.userid)
        someone = emulator.member(body.userid)
        code = person.get("wecom_code")
        fresh = not transcripts.said.get(body.userid) and not emulator.state.inbox.get(body.userid)
        if code and fresh:
            return await say(someone, someone.send_text(code), text=code)
        return chat(body.userid)

    @router.get(api + "/chat/{userid}")
    async def read(userid: str, known: int = -1) -> dict[str, Any]:
        """Return the whole chat, or just the version when the caller already has it."""
        member(userid)
        version = transcripts.version(emulator.state, userid)
        if version == known:
            return {"version": known, "unchanged": True}
        return chat(userid)

    @router.post(api + "/chat/{userid}/send")
    async def send(userid: str, body: TextIn) -> dict[str, Any]:
        """Send text typed by the member."""
        if not body.text.strip():
            raise HTTPException(400, "empty message")
        someone = member(userid)
        return await say(someone, someone.send_text(body.text), text=body.text)

    @router.post(api + "/chat/{userid}/photo")
    async def photo(userid: str, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        """Send an uploaded picture as an image message (the product fetches it with media/get)."""
        someone, data = member(userid), await file.read()
        try:
            with Image.open(io.BytesIO(data)) as image:
                content_type = Image.MIME.get(image.format or "", "image/jpeg")
        except UnidentifiedImageError as exc:
            raise HTTPException(400, "not an image") from exc
        at = emulator.now()
        done = await someone.send_image(data, content_type)
        media_id = parse_fields(done.xml).get("MediaId", "")
        photo = [{"url": f"{api}/media/{media_id}", "media_id": media_id}]
        transcripts.add(userid, at, photo=photo).delivered = done.delivered
        return chat(userid)

    @router.post(api + "/chat/{userid}/location")
    async def location(userid: str, body: LocationIn) -> dict[str, Any]:
        """Share a typed location (a location message)."""
        someone = member(userid)
        point = {"latitude": body.latitude, "longitude": body.longitude}
        return await say(someone, someone.send_location(body.latitude, body.longitude), location=point)

    @router.post(api + "/chat/{userid}/tap")
    async def tap(userid: str, body: TapIn) -> dict[str, Any]:
        """Tap a button of a template card the member received."""
        someone = member(userid)
        card = next((s for s in someone.received if s.msgid == body.message_id), None)
        if card is None or card.msgtype != "template_card":
            raise HTTPException(404, "unknown card")
        try:
            key = button_key(card, body.label)
        except KeyError as exc:
            raise HTTPException(400, f"no button {body.label!r}") from exc
        done = await someone.tap(card, key)
        if not done.delivered:
            raise HTTPException(502, "the product did not take the tap")
        return chat(userid)

    @router.get(api + "/media/{media_id}")
    async def media(media_id: str) -> Response:
        """Serve a photo or file kept by the emulator (members' photos, files the app uploaded)."""
        stored = emulator.state.media.get(media_id)
        if stored is None:
            raise HTTPException(404, "unknown media")
        return Response(stored.data, media_type=stored.content_type)

    return router
