"""Run the emulator standalone: python -m sandbox --port 8081 [--bot-token T --bot-username U]."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from sandbox.emulator import Emulator


async def _serve(args: argparse.Namespace) -> None:
    emu = Emulator(limits=not args.no_limits)
    bot = emu.create_bot(args.bot_token, args.bot_username)
    await emu.start(args.host, args.port)
    print(f"Bot API emulator on {emu.url}", flush=True)
    print(f"  base_url={emu.base_url}  base_file_url={emu.file_base_url}")
    print(f"  bot @{bot.username} token={bot.token}")
    print(f"  control API: {emu.control_url}/health", flush=True)
    try:
        await asyncio.Event().wait()  # serve until interrupted
    finally:
        await emu.stop()


def main() -> None:
    """Parse arguments and serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1/localhost are accepted")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--bot-token", default=None, help="fake token; default 100001:TEST-<random>")
    parser.add_argument("--bot-username", default="notoneless_test_bot")
    parser.add_argument("--no-limits", action="store_true", help="disable flood limits")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
