"""GET /wecom/callback: WeCom's URL verification, answered with the decrypted echostr exactly.

Mounted only when WeCom is configured (web.app). There is no POST yet: WeCom's messages and events
(POST to the same URL) are later work, so until then they are answered 405 and WeCom retries them."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from app.settings import Settings
from bot.wecom.callback import CallbackVerifier
from bot.wecom.crypto import BadSignature, CallbackRefused, WeComCipher, parse_encoding_aes_key
from bot.wecom.freshness import Replayed, StaleTimestamp
from domain.audit import Actor, audit

log = logging.getLogger(__name__)

_PARAMETERS = ("msg_signature", "timestamp", "nonce", "echostr")
# Refusals an outsider can cause answer 403; a signed request we cannot read (wrong AES key or corp id
# here, or a broken sender) answers 400. Bodies stay empty either way.
_FORBIDDEN = (BadSignature, StaleTimestamp, Replayed)


def verifier_from(settings: Settings) -> CallbackVerifier:
    """The verifier for the configured app; only called when settings.wecom_enabled."""
    assert settings.wecom_corp_id and settings.wecom_token and settings.wecom_encoding_aes_key
    key = parse_encoding_aes_key(settings.wecom_encoding_aes_key.get_secret_value())
    return CallbackVerifier(
        token=settings.wecom_token.get_secret_value(), cipher=WeComCipher(key, settings.wecom_corp_id)
    )


def wecom_router(verifier: CallbackVerifier) -> APIRouter:
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

    return router
