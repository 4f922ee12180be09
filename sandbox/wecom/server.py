"""The WeCom server API as FastAPI routes under /cgi-bin: gettoken, message/send,
message/update_template_card, media/upload and media/get, with WeCom's errcodes (HTTP 200 + JSON)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox.wecom.faults import ERRCODES
from sandbox.wecom.state import MEDIA_LIFETIME, RESPONSE_CODE_LIFETIME, Media, Sent

if TYPE_CHECKING:
    from sandbox.wecom.emulator import WeComEmulator

TEXT_LIMIT = 2048  # bytes; WeCom cuts longer text off silently, so the emulator does too
MEDIA_KINDS = ("image", "voice", "video", "file")
# WeCom's global error codes (全局错误码) as the emulator answers them.
INVALID_CREDENTIAL, INVALID_MEDIA_TYPE, INVALID_MEDIA_ID, INVALID_CORP = 40001, 40004, 40007, 40013
INVALID_TOKEN, MISSING_TOKEN, EXPIRED_TOKEN = 40014, 41001, 42001
EMPTY_CONTENT, INVALID_AGENT, ALL_RECIPIENTS_INVALID = 44004, 40056, 81013
# The emulator's own code for a used or expired response code (WeCom answers one; its number is not in
# PROTOCOL.md): the product treats any non-zero errcode from update_template_card as "not updated".
RESPONSE_CODE_UNUSABLE = 40098


class Refused(Exception):
    def __init__(self, errcode: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errmsg)
        self.errcode, self.errmsg, self.extra = errcode, errmsg, extra


def _ok(**fields: Any) -> JSONResponse:
    return JSONResponse({"errcode": 0, "errmsg": "ok", **fields})


def build_app(emu: WeComEmulator) -> FastAPI:
    """The API app of one emulator; every route is counted, faults apply before anything else."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    state = emu.state

    @app.middleware("http")
    async def faults_first(request: Request, call_next: Any) -> Response:
        path = request.url.path.removeprefix("/cgi-bin/")
        state.calls[path] += 1
        fault = emu.faults.next_fault(path)
        if fault is not None:
            if fault.kind == "500":
                return Response("Internal Server Error", status_code=500)
            if fault.kind == "timeout":
                await asyncio.sleep(fault.delay)  # then the call runs: a request given up on may still act
            else:
                return JSONResponse({"errcode": ERRCODES[fault.kind], "errmsg": f"emulated {fault.kind}"})
        response: Response = await call_next(request)
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"errcode": exc.errcode, "errmsg": exc.errmsg, **exc.extra})

    def authorised(request: Request) -> None:
        token = request.query_params.get("access_token")
        if not token:
            raise Refused(MISSING_TOKEN, "access_token missing")
        verdict = state.token_state(token, emu.now())
        if verdict == "expired":
            raise Refused(EXPIRED_TOKEN, "access_token expired")
        if verdict == "invalid":
            raise Refused(INVALID_TOKEN, "invalid access_token")

    @app.get("/cgi-bin/gettoken")
    async def gettoken(corpid: str = "", corpsecret: str = "") -> JSONResponse:
        if corpid != state.corp_id:
            raise Refused(INVALID_CORP, "invalid corpid")
        if corpsecret != state.secret:
            raise Refused(INVALID_CREDENTIAL, "invalid credential")
        token, expires_in = state.issue_token(emu.now())
        return _ok(access_token=token, expires_in=int(expires_in))

    @app.post("/cgi-bin/message/send")
    async def send(request: Request) -> JSONResponse:
        authorised(request)
        body = await request.json()
        if body.get("agentid") != state.agent_id:
            raise Refused(INVALID_AGENT, "invalid agentid")
        recipients = [u for u in str(body.get("touser", "")).split("|") if u]
        invalid = [u for u in recipients if u not in state.members]
        valid = [u for u in recipients if u in state.members]
        if not valid:
            raise Refused(
                ALL_RECIPIENTS_INVALID, "user & party & tag all invalid", invaliduser="|".join(invalid)
            )
        msgtype = str(body.get("msgtype", ""))
        content = dict(body.get(msgtype) or {})
        if msgtype == "text":
            text = str(content.get("content", ""))
            if not text:
                raise Refused(EMPTY_CONTENT, "empty content")
            content["content"] = text.encode()[:TEXT_LIMIT].decode(errors="ignore")
        if msgtype == "file" and str(content.get("media_id")) not in state.media:
            raise Refused(INVALID_MEDIA_ID, "invalid media_id")
        now, msgid = emu.now(), emu.new_msgid()
        response_code = None
        if msgtype == "template_card":
            response_code = state.issue_response_code(valid[0], str(content.get("task_id", "")), now)
        for userid in valid:
            state.inbox[userid].append(Sent(msgid, msgtype, {msgtype: content}, now, response_code))
        fields: dict[str, Any] = {"invaliduser": "|".join(invalid), "msgid": msgid}
        if response_code is not None:
            fields["response_code"] = response_code
        return _ok(**fields)

    @app.post("/cgi-bin/message/update_template_card")
    async def update_card(request: Request) -> JSONResponse:
        authorised(request)
        body = await request.json()
        code = state.response_codes.get(str(body.get("response_code", "")))
        if code is None or code.used or emu.now() - code.issued_at > RESPONSE_CODE_LIFETIME:
            raise Refused(RESPONSE_CODE_UNUSABLE, "invalid response_code")
        code.used = True
        state.card_updates.append({"userid": code.userid, "task_id": code.task_id, **body})
        return _ok(invaliduser=[])

    @app.post("/cgi-bin/media/upload")
    async def upload(request: Request, type: str = "") -> JSONResponse:
        authorised(request)
        if type not in MEDIA_KINDS:
            raise Refused(INVALID_MEDIA_TYPE, "invalid media type")
        form = await request.form()
        part = form.get("media")
        if part is None or isinstance(part, str):
            raise Refused(INVALID_MEDIA_TYPE, "media missing")
        media_id, now = state.new_media_id(), emu.now()
        content_type = part.content_type or "application/octet-stream"
        state.media[media_id] = Media(await part.read(), part.filename or "file", content_type, type, now)
        return _ok(type=type, media_id=media_id, created_at=str(int(now)))

    @app.get("/cgi-bin/media/get")
    async def download(request: Request, media_id: str = "") -> Response:
        authorised(request)
        media = state.media.get(media_id)
        if media is None or emu.now() - media.created_at > MEDIA_LIFETIME:
            raise Refused(INVALID_MEDIA_ID, "invalid media_id")
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(media.filename)}"}
        return Response(media.data, media_type=media.content_type, headers=headers)

    @app.get("/pic/{media_id}")
    async def picture(media_id: str) -> Response:
        """A received photo's PicUrl (no token needed, as WeCom's picture links)."""
        media = state.media.get(media_id)
        if media is None:
            return Response(status_code=404)
        return Response(media.data, media_type=media.content_type)

    return app
