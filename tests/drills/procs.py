"""Real product processes for drills: spawn, wait until ready, kill -9 — always bounded, always reaped."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def product_env(
    database_url: str, token: str, emulator_url: str, media_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment a product process reads its settings from (never the developer's .env values)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "WEB_", "DEMO"))
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_API_BASE_URL": f"{emulator_url}/bot",
            "TELEGRAM_FILE_BASE_URL": f"{emulator_url}/file/bot",
            "MEDIA_DIR": str(media_dir),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


async def spawn(
    args: list[str], env: Mapping[str, str], log: Path, wrapper: Sequence[str] = ()
) -> asyncio.subprocess.Process:
    """Starts `python <args>` in the repository root, under `wrapper` if given (a benchmark's valgrind);
    stderr goes to `log` (read it when a drill fails)."""
    with log.open("ab") as err:
        return await asyncio.create_subprocess_exec(
            *wrapper,
            sys.executable,
            *args,
            cwd=ROOT,
            env=dict(env),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )


async def expect_line(process: asyncio.subprocess.Process, wanted: str, timeout: float = 60.0) -> None:
    """Reads the process's stdout until a line equal to `wanted`; bounded."""
    assert process.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = await process.stdout.readline()
            if not line:
                raise RuntimeError(f"process {process.pid} ended before printing {wanted!r}")
            if line.decode().strip() == wanted:
                return


async def kill9(process: asyncio.subprocess.Process | None) -> None:
    """SIGKILL, no goodbye: what a power cut or the OOM killer does. Then reap it."""
    if process is None or process.returncode is not None:
        return
    try:
        os.kill(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    await asyncio.wait_for(process.wait(), timeout=15)


async def wait_http(url: str, process: asyncio.subprocess.Process, timeout: float = 60.0) -> None:
    """Polls `url` until it answers 200 (the process must stay alive meanwhile)."""
    async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(timeout):
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"process {process.pid} exited with {process.returncode}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


class ProductProcess:
    """A product process that a drill kills -9 (no goodbye) and starts again."""

    current: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        raise NotImplementedError

    async def kill(self) -> None:
        await kill9(self.current)
        self.current = None

    async def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, as systemd or a deploy sends it; returns the exit code once the worker is gone."""
        assert self.current is not None
        self.current.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.current.wait(), timeout=timeout)
        self.current = None
        return code

    async def restart(self) -> None:
        await self.kill()
        await self.start()


class BotProcess(ProductProcess):
    """The bot as a subprocess that can be killed -9 and restarted; the next one is warmed up ahead."""

    def __init__(self, env: Mapping[str, str], log: Path, module: str = "tests.drills.bot_process") -> None:
        self.env, self.log, self.module = env, log, module
        self.current: asyncio.subprocess.Process | None = None
        self.spare: asyncio.Task[asyncio.subprocess.Process] | None = None
        self.starts = 0

    async def _warm(self) -> asyncio.subprocess.Process:
        process = await spawn(["-m", self.module], self.env, self.log)
        await self._expect(process, "ready")
        return process

    async def _expect(self, process: asyncio.subprocess.Process, line: str) -> None:
        try:
            await expect_line(process, line)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(
                f"bot process did not print {line!r}; its log ends:\n{log_tail(self.log)}"
            ) from exc

    async def start(self) -> None:
        """Starts polling with a warm process and begins warming the next one."""
        process = await (self.spare or asyncio.create_task(self._warm()))
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
        await self._expect(process, "polling")
        self.current, self.starts = process, self.starts + 1
        self.spare = asyncio.create_task(self._warm())

    async def close(self) -> None:
        await self.kill()
        if self.spare is not None:
            spare = await asyncio.gather(self.spare, return_exceptions=True)
            if isinstance(spare[0], asyncio.subprocess.Process):
                await kill9(spare[0])


async def spawn_webhook_worker(env: Mapping[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    """One uvicorn webhook worker (`app.asgi:create --factory`) on 127.0.0.1:`port`."""
    return await spawn(
        [
            "-m",
            "uvicorn",
            "app.asgi:create",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env,
        log,
    )


class WebhookWorker(ProductProcess):
    """A webhook worker on a fixed port that can be killed -9 and started again on the same port.
    Only the first start registers the webhook: after that, updates come back by Telegram's retries."""

    def __init__(self, env: Mapping[str, str], logs: Path, port: int) -> None:
        self.env, self.logs, self.port = env, logs, port
        self.current: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.logs / f"worker{self.starts}.log"

    async def start(self) -> None:
        self.starts += 1
        env = {**self.env, "TELEGRAM_WEBHOOK_REGISTER": "1" if self.starts == 1 else "0"}
        self.current = await spawn_webhook_worker(env, self.port, self.log)
        try:
            await wait_http(f"http://127.0.0.1:{self.port}/healthz", self.current)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(
                f"webhook worker did not come up; its log ends:\n{log_tail(self.log)}"
            ) from exc
