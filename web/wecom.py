"""/wecom/callback: GET is WeCom's URL verification, answered with the decrypted echostr exactly; POST
takes members' messages and events, stored in the inbox before the empty 200 that stops WeCom's retries.

Mounted only when WeCom is configured (web.app). A stored callback wakes the processor
(bot.wecom.processor) that turns it into a form answer and replies; it runs in this process."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from bot.conversations.apply import InputServices
from bot.conversations.catalogue import FORMS
from bot.conversations.engine import Conversations
from bot.wecom import inbound
from bot.wecom.api import App, WeComClient
from bot.wecom.callback import CallbackVerifier
from bot.wecom.crypto import BadSignature, CallbackRefused, WeComCipher, WrongReceiver, parse_encoding_aes_key
from bot.wecom.freshness import Replayed, StaleTimestamp
from bot.wecom.processor import WeComProcessor
from bot.wecom.tokens import DatabaseTokenStore
from bot.wecom.xml_fields import parse_fields
from domain.audit import Actor, audit
from web.ports import WeComSettings

log = logging.getLogger(__name__)

_PARAMETERS = ("msg_signature", "timestamp", "nonce", "echostr")
# Refusals an outsider can cause answer 403; a signed request we cannot read (wrong AES key or corp id
# here, or a broken sender) answers 400. Bodies stay empty either way.
_FORBIDDEN = (BadSignature, StaleTimestamp, Replayed)


def verifier_from(settings: WeComSettings) -> CallbackVerifier:
    """The verifier for the configured app; only called when settings.wecom_enabled."""
    assert settings.wecom_corp_id and settings.wecom_token and settings.wecom_encoding_aes_key
    key = parse_encoding_aes_key(settings.wecom_encoding_aes_key.get_secret_value())
    return CallbackVerifier(
        token=settings.wecom_token.get_secret_value(), cipher=WeComCipher(key, settings.wecom_corp_id)
    )


def processor_from(settings: WeComSettings, services: InputServices) -> WeComProcessor | None:
    """The processor that answers members, when the app's secret and agent id are set too (without them
    the callback still stores what arrives)."""
    if not (settings.wecom_corp_id and settings.wecom_secret and settings.wecom_agent_id):
        return None
    app = App(settings.wecom_corp_id, settings.wecom_agent_id, settings.wecom_secret.get_secret_value())
    client = WeComClient(
        app,
        base_url=settings.wecom_api_base_url,
        tokens=DatabaseTokenStore(services.uow),
        clock=services.clock,
    )
    return WeComProcessor(services, client, Conversations(FORMS), settings.wecom_agent_id)


def wecom_router(verifier: CallbackVerifier, agent_id: int = 0) -> APIRouter:
    """Verification is rare (an administrator saving the callback URL), so a success is audited, with
    no detail; refusals are logged by code only, never with the parameters."""
    router = APIRouter()

    @router.get("/wecom/callback", include_in_schema=False)
    async def verify_url(request: Request) -> Response:
        given = [request.query_params.get(name, "") for name in _PARAMETERS]
        if not all(given):
            return Response(status_code=400)
        msg_signature, timestamp, nonce, echostr = given
        services = request.app.state.services
        now = services.clock.now()
        try:
            plaintext = verifier.verify_url(msg_signature, timestamp, nonce, echostr, now)
        except CallbackRefused as exc:
            log.warning("wecom: refused a URL verification: %s", exc.code)
            return Response(status_code=403 if isinstance(exc, _FORBIDDEN) else 400)
        client = request.client.host if request.client else None
        async with services.uow() as uow:
            audit(uow, Actor(staff_id=None, label="wecom", source=client), now, "verify", "wecom_callback")
            await uow.commit()
        log.info("wecom: callback URL verified")
        return Response(content=plaintext.encode(), media_type="text/plain; charset=utf-8")

    @router.post("/wecom/callback", include_in_schema=False)
    async def receive(request: Request) -> Response:
        """Stored durably, then 200 with an empty body; a message WeCom delivers again is answered 200
        and not stored twice. Nothing is logged of the content."""
        given = [request.query_params.get(name, "") for name in _PARAMETERS[:3]]
        if not all(given):
            return Response(status_code=400)
        msg_signature, timestamp, nonce = given
        services = request.app.state.services
        now = services.clock.now()
        try:
            fields = parse_fields(
                verifier.open_message(msg_signature, timestamp, nonce, await request.body(), now)
            )
            if fields.get("ToUserName") != verifier.cipher.receive_id:
                raise WrongReceiver()
        except CallbackRefused as exc:
            log.warning("wecom: refused a callback: %s", exc.code)
            return Response(status_code=403 if isinstance(exc, _FORBIDDEN) else 400)
        stored = False
        try:
            async with services.uow() as uow:
                new = await inbound.keep(uow, fields, now, agent_id)
                await uow.commit()
            stored = True
        finally:
            if not stored:  # WeCom sends it again: let that request through the replay guard
                verifier.forget(msg_signature, timestamp, nonce)
        if not new:
            log.info("wecom: a callback delivered again was acknowledged")
        if (processor := getattr(request.app.state, "wecom_processor", None)) is not None:
            processor.wake()
        return Response(status_code=200)

    return router
