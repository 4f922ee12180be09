"""The WeCom emulator's members deliver as WeCom does: signed, encrypted, and again after the answer
timeout (5 s in WeCom, shortened here) until a 200, at most three more times."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request, Response

from sandbox.wecom import WeComEmulator
from tests.sandbox.simulator_app import serve
from tests.wecom_wire import sign, unseal


def receiver(answers: list[int | None], seen: list[dict[str, str]], emu: WeComEmulator) -> FastAPI:
    """Answers each POST with the next status in `answers` (None: too late), recording what it got."""
    app = FastAPI()

    @app.post("/wecom/callback")
    async def take(request: Request) -> Response:
        body = (await request.body()).decode()
        encrypted = body.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        params = dict(request.query_params)
        _, xml, corp = unseal(encrypted, emu.encoding_aes_key)
        assert params["msg_signature"] == sign(emu.token, params["timestamp"], params["nonce"], encrypted)
        seen.append({"nonce": params["nonce"], "xml": xml, "corp": corp})
        answer = answers.pop(0)
        if answer is None:
            await asyncio.sleep(emu.answer_timeout * 3)
            return Response(status_code=200)
        return Response(status_code=answer)

    return app


async def test_a_callback_without_an_answer_in_time_is_sent_again() -> None:
    seen: list[dict[str, str]] = []
    async with WeComEmulator(answer_timeout=0.3) as emu:
        member = emu.add_member("zhangsan")
        async with serve(receiver([None, 200], seen, emu)) as url:
            emu.connect(f"{url}/wecom/callback")
            delivery = await member.send_text("王小明今天没来")
    assert delivery.answers == [None, 200]
    assert len(seen) == 2 and seen[0]["xml"] == seen[1]["xml"] and seen[0]["nonce"] != seen[1]["nonce"]
    assert "<Content><![CDATA[王小明今天没来]]></Content>" in seen[0]["xml"]
    assert seen[0]["corp"] == emu.state.corp_id


async def test_a_callback_refused_every_time_is_given_up_after_three_retries() -> None:
    seen: list[dict[str, str]] = []
    async with WeComEmulator(answer_timeout=0.3) as emu:
        member = emu.add_member("zhangsan")
        async with serve(receiver([500, 500, 403, 500], seen, emu)) as url:
            emu.connect(f"{url}/wecom/callback")
            delivery = await member.enter()
    assert delivery.answers == [500, 500, 403, 500]
    assert not delivery.delivered
    assert "<Event><![CDATA[enter_agent]]></Event>" in seen[0]["xml"]
