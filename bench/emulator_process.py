"""The Bot API emulator in its own process, for benchmarks: `python -m bench.emulator_process [--limits]`.

Its CPU is then not the bot's nor the phones'. It prints one JSON line ({"url", "token", "username",
"echo_token", "echo_username"}) once it serves on 127.0.0.1: two bot accounts, as bench.step_cost runs
the echo bot beside the bot under test to measure the two alternately. Then it answers JSON commands,
one a line on stdin, with one JSON line each:
  {"op": "users", "count": N}  the user ids of N people whose chats with both bots are started;
  {"op": "delivered"}          how many messages the first bot sent, and how many repeat a text in their
                               chat.
It stops when stdin closes. Phones talk to it over its control API, like the tests' phones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from sandbox.emulator import Emulator
from sandbox.state import BotState


def users(emulator: Emulator, bots: list[BotState], count: int) -> list[int]:
    """`count` new people (user ids) who have pressed START with every bot, so a bot may write first."""
    made = []
    for _ in range(count):
        user = emulator.create_user(first_name="教师", language_code="zh-hans")
        for bot in bots:
            emulator.registry.chat(bot, user["id"]).started = True
        made.append(int(user["id"]))
    return made


def delivered(bot: BotState) -> dict[str, int]:
    """How many messages the bot sent, and how many of them repeat an earlier text in the same chat."""
    messages = duplicates = 0
    for chat in bot.chats.values():
        texts = [m.data.get("text", "") for m in chat.messages.values() if m.from_bot]
        messages += len(texts)
        duplicates += len(texts) - len(set(texts))
    return {"messages": messages, "duplicates": duplicates}


async def serve(limits: bool) -> None:
    async with Emulator(limits=limits) as emulator:
        bot = emulator.create_bot(username="nol_bench_bot")
        echo = emulator.create_bot(username="echo_bench_bot")
        hello = {"url": emulator.url, "token": bot.token, "username": bot.username}
        hello |= {"echo_token": echo.token, "echo_username": echo.username}
        print(json.dumps(hello), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            if command["op"] == "users":
                answer: Any = users(emulator, [bot, echo], int(command["count"]))
            elif command["op"] == "delivered":
                answer = delivered(bot)
            else:
                answer = {"error": f"unknown op {command['op']!r}"}
            print(json.dumps(answer, ensure_ascii=False), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_process", description=__doc__)
    parser.add_argument("--limits", action="store_true", help="Telegram's flood limits on")
    asyncio.run(serve(parser.parse_args().limits))


if __name__ == "__main__":
    main()
