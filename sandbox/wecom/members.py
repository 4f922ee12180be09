"""Simulated WeCom members: each writes to the app, and the emulator POSTs the message or event to the
product's callback URL signed and encrypted, as WeCom does, again after 5 s without a 200 (3 retries)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from bot.wecom.crypto import signature
from sandbox.wecom.state import Media, Sent

if TYPE_CHECKING:
    from sandbox.wecom.emulator import WeComEmulator

ANSWER_TIMEOUT = 5.0  # WeCom waits this long for the 200 before sending the same message again
RETRIES = 3
XmlFields = dict[str, str | float]


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: XmlFields) -> str:
    """Flat callback XML as WeCom writes it: strings in CDATA, numbers bare."""
    parts = [
        f"<{k}>{v}</{k}>" if isinstance(v, int | float) else f"<{k}>{_cdata(v)}</{k}>"
        for k, v in fields.items()
    ]
    return "<xml>" + "".join(parts) + "</xml>"


@dataclass
class Delivery:
    """One callback: what was sent and how each attempt was answered (an HTTP status, or None for none)."""

    xml: str
    answers: list[int | None] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return 200 in self.answers


@dataclass
class Member:
    """A member of the corp who can use the app; `received` is everything the app sent them."""

    emu: WeComEmulator
    userid: str

    @property
    def received(self) -> list[Sent]:
        return self.emu.state.inbox[self.userid]

    def _base(self, msgtype: str) -> XmlFields:
        return {
            "ToUserName": self.emu.state.corp_id,
            "FromUserName": self.userid,
            "CreateTime": int(self.emu.now()),
            "MsgType": msgtype,
        }

    def _message(self, msgtype: str, **fields: str | float) -> XmlFields:
        return (
            self._base(msgtype)
            | fields
            | {"MsgId": int(self.emu.new_msgid()), "AgentID": self.emu.state.agent_id}
        )

    def _event(self, event: str, **fields: str | float) -> XmlFields:
        return self._base("event") | {"AgentID": self.emu.state.agent_id, "Event": event} | fields

    async def send_text(self, content: str) -> Delivery:
        return await self.emu.deliver(self._message("text", Content=content))

    async def send_image(self, data: bytes, content_type: str = "image/jpeg") -> Delivery:
        """The photo is kept as media the product downloads with media/get, as WeCom keeps it."""
        media_id = self.emu.state.new_media_id()
        self.emu.state.media[media_id] = Media(data, "photo.jpg", content_type, "image", self.emu.now())
        pic_url = f"{self.emu.url}/pic/{media_id}"
        return await self.emu.deliver(self._message("image", PicUrl=pic_url, MediaId=media_id))

    async def send_voice(self, data: bytes = b"#!AMR\n") -> Delivery:
        """A voice message (kept as media, as WeCom keeps it)."""
        media_id = self.emu.state.new_media_id()
        self.emu.state.media[media_id] = Media(data, "voice.amr", "voice/amr", "voice", self.emu.now())
        return await self.emu.deliver(self._message("voice", MediaId=media_id, Format="amr"))

    async def send_location(self, lat: float, lon: float, label: str = "", scale: int = 15) -> Delivery:
        fields: XmlFields = {
            "Location_X": lat,
            "Location_Y": lon,
            "Scale": scale,
            "Label": label,
            "AppType": "wxwork",
        }
        return await self.emu.deliver(self._message("location", **fields))

    async def report_location(self, lat: float, lon: float, precision: float = 30.0) -> Delivery:
        """The LOCATION event a member's client reports when the app asks for it."""
        return await self.emu.deliver(
            self._event("LOCATION", Latitude=lat, Longitude=lon, Precision=precision)
        )

    async def enter(self) -> Delivery:
        return await self.emu.deliver(self._event("enter_agent", EventKey=""))

    async def tap(self, card: Sent, key: str) -> Delivery:
        """Taps a button of a template card this member received; the event carries a fresh response
        code, valid once for 72 h, to update the card with."""
        body = card.body.get("template_card", {})
        keys = [b.get("key") for b in body.get("button_list", [])]
        if key not in keys:
            raise ValueError(f"the card has no button {key!r} (it has {keys})")
        task_id = str(body.get("task_id", ""))
        code = self.emu.state.issue_response_code(self.userid, task_id, self.emu.now())
        card_type = str(body.get("card_type", ""))
        fields = {"EventKey": key, "TaskId": task_id, "CardType": card_type, "ResponseCode": code}
        return await self.emu.deliver(self._event("template_card_event", **fields))


def sealed_request(
    emu: WeComEmulator, xml: str
) -> tuple[dict[str, str], bytes]:  # query parameters and body of one attempt
    """Encrypts and signs the XML with a fresh nonce and timestamp (one per attempt)."""
    encrypted = emu.cipher.encrypt(xml)
    timestamp, nonce = str(int(emu.now())), str(secrets.randbelow(10**10))
    params = {
        "msg_signature": signature(emu.token, timestamp, nonce, encrypted),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = to_xml({"ToUserName": emu.state.corp_id, "AgentID": emu.state.agent_id, "Encrypt": encrypted})
    return params, body.encode()


async def post_callback(emu: WeComEmulator, url: str, xml: str) -> Delivery:
    """POSTs until a 200, at most 1 + RETRIES times, each attempt given emu.answer_timeout seconds."""
    delivery = Delivery(xml)
    async with httpx.AsyncClient(timeout=emu.answer_timeout) as client:
        for _ in range(1 + RETRIES):
            params, body = sealed_request(emu, xml)
            try:
                reply = await client.post(url, params=params, content=body)
            except httpx.HTTPError:
                delivery.answers.append(None)
                continue
            delivery.answers.append(reply.status_code)
            if reply.status_code == 200:
                break
    emu.deliveries.append(delivery)
    return delivery
