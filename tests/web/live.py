"""The dashboard served by a real uvicorn on 127.0.0.1, in a thread with its own event loop and engine."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from app.container import Services
from app.settings import Settings
from domain.clock import Clock
from domain.policy import Policy, load_policy
from storage.db import make_engine, make_sessionmaker
from storage.uow import UnitOfWorkFactory
from web.app import create_app

START_TIMEOUT = 20.0


@contextmanager
def live_server(
    database_url: str, media_dir: Path, clock: Clock, policy: Policy | None = None, /, **settings: object
) -> Iterator[str]:
    """Yields the base URL; the server stops (and its engine is disposed) when the block ends.
    `policy` replaces the shipped one; `settings` are further Settings fields (e.g. the WeCom ones)."""
    holder: dict[str, uvicorn.Server] = {}
    ready = threading.Event()

    async def main() -> None:
        config = Settings(database_url=database_url, media_dir=media_dir, _env_file=None, **settings)  # type: ignore[call-arg, arg-type]
        engine = make_engine(database_url)
        services = Services(
            settings=config,
            engine=engine,
            uow=UnitOfWorkFactory(make_sessionmaker(engine)),
            policy=policy or load_policy(),
            clock=clock,
        )
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(services), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
            )
        )
        holder["server"] = server
        ready.set()
        try:
            await server.serve()
        finally:
            await engine.dispose()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="live-dashboard", daemon=True)
    thread.start()
    assert ready.wait(START_TIMEOUT), "server thread did not start"
    server = holder["server"]
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT)
