"""The dashboard speaks the person's language (domain.people.language): their one stored choice, whichever channel
it was made in, else the browser's, else what their phone reported, else the default."""

from __future__ import annotations

import httpx

from i18n import t
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import csrf_of, login
from tests.web.county import County

ENGLISH, CHINESE = t("en", "web.nav.overview"), t("zh_CN", "web.nav.overview")


async def set_principal(
    uow_factory: UnitOfWorkFactory, county: County, chosen: str | None, reported: str | None = None
) -> None:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(county.staff["principal"].id)
        assert staff is not None
        staff.language, staff.reported_language = chosen, reported
        await uow.commit()


async def chosen(uow_factory: UnitOfWorkFactory, county: County) -> str | None:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(county.staff["principal"].id)
        assert staff is not None
        return staff.language


async def test_a_choice_made_in_the_chat_is_the_dashboards_language(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    await set_principal(uow_factory, county, "en")
    await login(client, "principal")
    assert ENGLISH in (await client.get("/dashboard")).text
    await set_principal(uow_factory, county, "zh_CN")  # chosen again in the chat: the open session follows
    assert CHINESE in (await client.get("/dashboard")).text


async def test_without_a_choice_the_phones_language_is_the_default(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    await set_principal(uow_factory, county, None, reported="en")
    await login(client, "principal")
    assert ENGLISH in (await client.get("/dashboard")).text


async def test_the_stored_choice_wins_over_the_browsers_language(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    await set_principal(uow_factory, county, "zh_CN", reported="en")
    assert "Log in to the dashboard" in (await client.get("/login?lang=en")).text  # before login: the browser
    await login(client, "principal")
    assert CHINESE in (await client.get("/dashboard")).text


async def test_the_switch_on_the_page_is_the_persons_choice_everywhere(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    await login(client, "principal")
    page = await client.get("/dashboard")
    assert CHINESE in page.text and await chosen(uow_factory, county) is None
    await client.post("/language", data={"language": "en", "csrf_token": csrf_of(page.text)})
    assert ENGLISH in (await client.get("/dashboard")).text
    assert await chosen(uow_factory, county) == "en"  # the chat, reminders and reports follow it
    refused = await client.post("/language", data={"language": "fr", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 400 and await chosen(uow_factory, county) == "en"
