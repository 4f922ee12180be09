"""bench.step_procs: a bot under test stops as the product does when its scenario ends, so the next bot on
the same database starts with nothing to handle again (a kill -9 would leave the last second's handled
updates in the inbox, and their replies would go out again ahead of the next scenario's)."""

from __future__ import annotations

from pathlib import Path

from bench.bench_conversation import is_student_list
from bench.harness import populate_school, scratch_database, services_for, shared_client
from bench.step_procs import bot_process, emulator_process
from bot.context import bot_id_of
from sandbox.phone import Phone


async def test_the_product_bot_ends_by_itself_with_its_inbox_empty(tmp_path: Path) -> None:
    async with emulator_process(tmp_path, limits=False) as emu, scratch_database("sqlite") as url:
        [account] = await emu.users(1)
        services = services_for(url, tmp_path)
        try:
            await populate_school(services, [{"id": account}])
        finally:
            await services.close()
        async with shared_client(4) as client:
            phone = Phone(emu.url, emu.username, {"id": account}, client=client)
            async with bot_process("bench.product_bot", url, emu, tmp_path) as bot:
                await phone.send("/report")
                await phone.wait_for_reply(is_student_list, timeout=30)
        assert bot.process.returncode == 0  # it exited; killed, it would be -9
        services = services_for(url, tmp_path)
        try:
            async with services.uow() as uow:
                assert list(await uow.inbox.waiting(channel="telegram", bot_id=bot_id_of(emu.token))) == []
        finally:
            await services.close()
