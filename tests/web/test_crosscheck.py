"""比对 on the dashboard, on SQLite and PostgreSQL: the county officer uploads crafted lists with known
discrepancies, the run is saved and nothing opens; the review shows the counts; confirming bucket
`absent` opens exactly the expected case and adds evidence to the open ones, once however often it is
sent; a second run lists only what changed; a township officer reads their township only; a principal
gets 403; a bad file saves nothing."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import func, select

from storage.models import Case, CaseEvent, CrosscheckChild, CrosscheckRun
from storage.uow import UnitOfWorkFactory
from tests.fixtures.crosscheck import Table
from tests.fixtures.roster import fake_id
from tests.unit.test_crosscheck import write
from tests.web.conftest import AsUser, csrf_of
from tests.web.county import County
from web.export_limit import ExportLimiter

OUT_WEST, OUT_NORTH = fake_id(date(2016, 5, 5), 41), fake_id(date(2017, 6, 6), 42)
ELSEWHERE = fake_id(date(2015, 2, 2), 43)


def population() -> Table:
    return [
        ["姓名", "身份证号", "户籍地址", "现住址"],
        ["李小三", OUT_WEST, "测试县示范镇西河村3组", None],  # no record: out of school, 西河村
        ["何小北", OUT_NORTH, "外县某村", "测试县北岭镇北岭村1组"],  # no record: out of school, 北岭村
        ["赵小四", ELSEWHERE, "测试县示范镇东山村4组", None],
    ]


def registry(county: County, *, third: str = "辍学", fourth: str = "在读") -> Table:
    s = county.world.students
    school = county.world.school.name
    return [
        ["学籍号", "姓名", "学校", "学籍状态", "身份证号"],
        [s[0].student_number, s[0].name, school, "在读", None],  # case A open: evidence
        [s[1].student_number, s[1].name, school, "在读", None],  # case C open: evidence
        [s[2].student_number, s[2].name, school, third, None],  # no case, record dropped: opens
        [s[3].student_number, s[3].name, school, fourth, None],  # present
        [s[4].student_number, s[4].name, school, "在读", None],  # case B open: evidence
        [s[5].student_number, s[5].name, school, "在读", None],  # case D closed: present
        [s[6].student_number, s[6].name, school, "在读", None],
        [s[7].student_number, s[7].name, school, "在读", None],
        [county.students["E"].student_number, "钱小北", county.school2.name, "在读", None],
        ["G" + ELSEWHERE, "赵小四", "东乡初级中学", "在读", ELSEWHERE],
    ]


def files(tmp_path: Path, tables: dict[str, Table]) -> dict[str, tuple[str, bytes, str]]:
    found = {}
    for key, table in tables.items():
        suffix = ".csv" if key == "population" else ".xlsx"
        path = write(tmp_path / f"{key}{suffix}", table)
        found[key] = (path.name, path.read_bytes(), "application/octet-stream")
    return found


async def upload(client: httpx.AsyncClient, tmp_path: Path, tables: dict[str, Table]) -> httpx.Response:
    page = await client.get("/crosscheck")
    assert page.status_code == 200, page.text
    return await client.post(
        "/crosscheck/runs", data={"csrf_token": csrf_of(page.text)}, files=files(tmp_path, tables)
    )


async def _children(uow_factory: UnitOfWorkFactory, run_id: int) -> dict[str, CrosscheckChild]:
    async with uow_factory() as uow:
        rows = (
            await uow.session.scalars(select(CrosscheckChild).where(CrosscheckChild.run_id == run_id))
        ).all()
        return {r.student_number or r.national_id or r.key: r for r in rows}


async def _count(uow_factory: UnitOfWorkFactory, model: Any, *where: Any) -> int:
    async with uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _bucket_row(html: str, bucket: str) -> tuple[int, ...]:
    row = re.search(rf'data-bucket="{bucket}">(.*?)</tr>', html, re.DOTALL)
    assert row, bucket
    return tuple(int(n) for n in re.findall(r'class="num \w+">(\d+)<', row.group(1)))


async def test_saved_run_reviewed_and_confirmed_once(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    client = await as_user("county")
    cases_before = await _count(uow_factory, Case)
    reply = await upload(client, tmp_path, {"population": population(), "registry": registry(county)})
    assert reply.status_code == 303, reply.text
    async with uow_factory() as uow:
        run = await uow.session.scalar(select(CrosscheckRun))
        assert run is not None and run.previous_id is None
    assert (
        run.counts["absent"] == 5
        and run.counts["out_of_school"] == 2
        and run.counts["new"]
        == run.counts["present"]
        + 5
        + 2
        + run.counts["elsewhere"]
        + run.counts["to_resolve"]
        + run.counts["out_of_range"]
    )
    assert run.sources["population"] == {"file": "population.csv", "rows": 3, "skipped": 0}
    assert await _count(uow_factory, Case) == cases_before  # nothing opens without confirmation
    children = await _children(uow_factory, run.id)
    s, w = county.world.students, county.world
    assert (
        children[s[2].student_number].bucket == "absent"
        and children[s[2].student_number].student_id == s[2].id
    )
    assert children[s[2].student_number].school_id == w.school.id
    assert children[OUT_WEST].village_id == w.village_b.id and children[OUT_WEST].bucket == "out_of_school"
    assert children["G" + ELSEWHERE].bucket == "elsewhere" and children["G" + ELSEWHERE].school_id is None

    page = await client.get(reply.headers["location"])
    assert "比对已保存" in page.text
    assert _bucket_row(page.text, "absent") == (5, 5, 0, 0)
    assert _bucket_row(page.text, "out_of_school") == (2, 2, 0, 0)
    assert "李小三" not in page.text and OUT_WEST not in page.text  # masked: no PII permission
    sample = await client.get("/crosscheck", params={"bucket": "absent"})
    assert 'id="sample-table"' in sample.text and 'id="confirm-form"' in sample.text

    # Confirm bucket absent: one case opens (the dropped record), four open cases get the evidence.
    form = {"csrf_token": csrf_of(sample.text), "bucket": "absent"}
    done = await client.post(f"/crosscheck/runs/{run.id}/confirm", data=form)
    assert done.status_code == 303, done.text
    assert await _count(uow_factory, Case) == cases_before + 1
    async with uow_factory() as uow:
        opened = await uow.cases.open_for_student(s[2].id)
        assert opened is not None and opened.status == "suspected" and opened.responsible_teacher_id
        events = (
            await uow.session.scalars(select(CaseEvent).where(CaseEvent.kind == "crosscheck_match"))
        ).all()
    assert len(events) == 5
    by_case = {e.case_id: e.data for e in events}
    evidence = by_case[opened.id]
    assert evidence["run_id"] == run.id and evidence["record_status"] == "辍学"
    assert evidence["crosscheck_reason"] == "record_dropped" and evidence["lists"] == ["registry#4", "roster"]
    assert county.cases["A"] in by_case and county.cases["E"] in by_case
    assert all(s[2].name not in str(d) for d in by_case.values())
    children = await _children(uow_factory, run.id)
    assert children[s[2].student_number].decision == "opened"
    assert children[s[0].student_number].decision == "evidence"
    assert children[s[0].student_number].case_id == county.cases["A"]
    confirmed = await client.get(done.headers["location"])
    assert "新开案件 1 个" in confirmed.text

    # Sent again (a double submit): nothing twice.
    again = await client.post(f"/crosscheck/runs/{run.id}/confirm", data=form)
    assert again.status_code == 303
    assert await _count(uow_factory, Case) == cases_before + 1
    assert await _count(uow_factory, CaseEvent, CaseEvent.kind == "crosscheck_match") == 5

    # The case page shows the evidence readably.
    case_page = await client.get(f"/cases/{opened.id}")
    assert "比对发现" in case_page.text and "学籍 #4" in case_page.text and "辍学" in case_page.text
    assert "crosscheck_match" not in case_page.text

    # Set aside refuses a phone number, then works once.
    child = children[OUT_NORTH]
    aside = {"csrf_token": form["csrf_token"], "run": str(run.id), "note": "家长电话 13912345678"}
    bad = await client.post(f"/crosscheck/children/{child.id}/set-aside", data=aside)
    assert bad.status_code == 422 and "手机号" in bad.text
    aside["note"] = "已随父母迁往外县，线下核实"
    assert (await client.post(f"/crosscheck/children/{child.id}/set-aside", data=aside)).status_code == 303
    twice = await client.post(f"/crosscheck/children/{child.id}/set-aside", data=aside)
    assert twice.status_code == 422 and "已经处理过" in twice.text
    assert (await _children(uow_factory, run.id))[OUT_NORTH].decision == "set_aside"

    # 失学: the child on no roll gets a suspected out-of-school case in 西河村, with the evidence.
    oos = await client.post(f"/crosscheck/runs/{run.id}/confirm", data={**form, "bucket": "out_of_school"})
    assert oos.status_code == 303, oos.text
    assert "新开“疑似失学”案件 1 个" in (await client.get(oos.headers["location"])).text
    west = (await _children(uow_factory, run.id))[OUT_WEST]
    assert west.decision == "opened" and west.case_id is not None
    async with uow_factory() as uow:
        oos_case = await uow.cases.get(west.case_id)
        assert oos_case is not None and oos_case.kind == "out_of_school" and oos_case.status == "suspected"
        oos_child = await uow.students.get(oos_case.student_id)
        assert oos_child is not None and oos_child.school_id is None
        assert oos_child.home_village_id == w.village_b.id and oos_child.national_id == OUT_WEST
        oos_events = (
            await uow.session.scalars(
                select(CaseEvent).where(
                    CaseEvent.case_id == oos_case.id, CaseEvent.kind == "crosscheck_match"
                )
            )
        ).all()
    assert [e.data["crosscheck_reason"] for e in oos_events] == ["no_record_population"]
    assert await _count(uow_factory, Case) == cases_before + 2
    again = await client.post(f"/crosscheck/runs/{run.id}/confirm", data={**form, "bucket": "out_of_school"})
    assert again.status_code == 303 and await _count(uow_factory, Case) == cases_before + 2

    # A second run: pupil 4 transferred out, a child moved in, the one set aside moved away. Pupil 3's
    # reason changed too: the case confirmed above is open now.
    moved_in = fake_id(date(2016, 9, 9), 44)
    newer = [r for r in population() if r[1] != OUT_NORTH] + [
        ["孔小新", moved_in, "测试县示范镇东山村9组", None]
    ]
    reply = await upload(client, tmp_path, {"population": newer, "registry": registry(county, fourth="转出")})
    assert reply.status_code == 303, reply.text
    async with uow_factory() as uow:
        latest = (await uow.session.scalars(select(CrosscheckRun).order_by(CrosscheckRun.id.desc()))).first()
        assert latest is not None and latest.previous_id == run.id
    assert (latest.counts["new"], latest.counts["changed"], latest.counts["gone"]) == (1, 2, 1)
    only = await client.get("/crosscheck", params={"change": "changes"})
    rows = re.findall(r'<tr data-child="(\d+)">', only.text)
    news = {c.id: c for c in (await _children(uow_factory, latest.id)).values()}
    assert sorted(int(r) for r in rows) == sorted(i for i, c in news.items() if c.change != "same")
    assert len(rows) == 3 and 'id="gone-table"' in only.text and "何*北" in only.text
    # Confirming against the older run is refused: a newer one changes what was reviewed.
    stale = await client.post(f"/crosscheck/runs/{run.id}/confirm", data=form)
    assert stale.status_code == 422 and await _count(uow_factory, Case) == cases_before + 2


async def test_township_officer_reads_own_township_and_principal_is_refused(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    client = await as_user("county")
    assert (
        await upload(client, tmp_path, {"population": population(), "registry": registry(county)})
    ).status_code == 303
    client = await as_user("township")
    page = await client.get("/crosscheck", params={"bucket": "out_of_school"})
    assert page.status_code == 200 and 'id="nav-crosscheck"' in page.text
    assert 'id="upload-form"' not in page.text and 'id="confirm-form"' not in page.text
    shown = {int(r) for r in re.findall(r'<tr data-child="(\d+)">', page.text)}
    async with uow_factory() as uow:
        run = await uow.session.scalar(select(CrosscheckRun))
        assert run is not None
    children = await _children(uow_factory, run.id)
    assert shown == {children[OUT_WEST].id}  # 北岭村's child is another township's
    everything = await client.get("/crosscheck")
    assert _bucket_row(everything.text, "absent")[0] == 4  # E (北岭中学) is not theirs
    refused = await client.post(
        f"/crosscheck/runs/{run.id}/confirm", data={"csrf_token": csrf_of(page.text), "bucket": "absent"}
    )
    assert refused.status_code == 403
    client = await as_user("principal")
    assert (await client.get("/crosscheck")).status_code == 403
    assert 'id="nav-crosscheck"' not in (await client.get("/dashboard")).text


async def test_bad_upload_saves_nothing_and_admin_downloads_the_workbook(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    client = await as_user("county")
    broken = {"population": ("p.xlsx", b"PK\x03\x04 not really", "application/octet-stream")}
    page = await client.get("/crosscheck")
    reply = await client.post(
        "/crosscheck/runs",
        data={"csrf_token": csrf_of(page.text)},
        files={**broken, "registry": files(tmp_path, {"registry": registry(county)})["registry"]},
    )
    assert reply.status_code == 422 and "p.xlsx" in reply.text and "没有保存任何内容" in reply.text
    wrong = await client.post(
        "/crosscheck/runs",
        data={"csrf_token": csrf_of(page.text)},
        files={"population": ("p.txt", b"a,b", "text/plain"), "registry": ("r.csv", b"x", "text/csv")},
    )
    assert wrong.status_code == 422 and "p.txt" in wrong.text
    missing = await client.post(
        "/crosscheck/runs",
        data={"csrf_token": csrf_of(page.text)},
        files={"population": ("p.csv", b"x", "text/csv")},
    )
    assert missing.status_code == 422 and "必须上传" in missing.text
    assert await _count(uow_factory, CrosscheckRun) == 0

    assert (
        await upload(client, tmp_path, {"population": population(), "registry": registry(county)})
    ).status_code == 303
    async with uow_factory() as uow:
        run = await uow.session.scalar(select(CrosscheckRun))
        assert run is not None
    assert (await client.get(f"/crosscheck/runs/{run.id}/proposal.xlsx")).status_code == 403  # no PII right
    client = await as_user("admin")
    reply = await client.get(f"/crosscheck/runs/{run.id}/proposal.xlsx")
    assert reply.status_code == 200, reply.text
    book = load_workbook(io.BytesIO(reply.content), read_only=True)
    results = list(book.worksheets[1].iter_rows(values_only=True))[1:]
    assert {r[8] for r in results} >= {OUT_WEST, OUT_NORTH} and "李小三" in {r[7] for r in results}


async def test_an_upload_while_another_runs_is_told_to_try_later(
    app: FastAPI, as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    client = await as_user("county")
    limiter = app.state.crosscheck_limiter = ExportLimiter(1, queue=0, wait=0)
    async with limiter.slot("someone else's run"):
        reply = await upload(client, tmp_path, {"population": population(), "registry": registry(county)})
    assert reply.status_code == 429 and "请几分钟后再试" in reply.text and reply.headers["Retry-After"]
    assert await _count(uow_factory, CrosscheckRun) == 0
    assert (
        await upload(client, tmp_path, {"population": population(), "registry": registry(county)})
    ).status_code == 303


async def test_a_child_the_addresses_do_not_place_is_placed_then_confirmed(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    """失学 needs a village (its cadre visits): a child whose addresses name none is counted, not opened,
    until the county officer places it; a village outside the area is refused."""
    client = await as_user("county")
    unplaced = fake_id(date(2016, 7, 7), 45)
    table: Table = [*population(), ["孙小无", unplaced, "外省某地", None]]
    assert (
        await upload(client, tmp_path, {"population": table, "registry": registry(county)})
    ).status_code == 303
    async with uow_factory() as uow:
        run = await uow.session.scalar(select(CrosscheckRun))
        assert run is not None
    child = (await _children(uow_factory, run.id))[unplaced]
    assert child.bucket == "out_of_school" and child.village_id is None
    page = await client.get("/crosscheck", params={"bucket": "out_of_school"})
    assert f'action="/crosscheck/children/{child.id}/village"' in page.text
    form = {"csrf_token": csrf_of(page.text), "bucket": "out_of_school"}
    done = await client.post(f"/crosscheck/runs/{run.id}/confirm", data=form)
    assert "新开“疑似失学”案件 2 个" in (await client.get(done.headers["location"])).text
    assert "需先指定村 1 人" in (await client.get(done.headers["location"])).text
    assert (await _children(uow_factory, run.id))[unplaced].decided_at is None

    place = {"csrf_token": form["csrf_token"], "run": str(run.id), "village": str(county.world.township.id)}
    refused = await client.post(f"/crosscheck/children/{child.id}/village", data=place)
    assert refused.status_code == 422 and "请选择本辖区内的一个村" in refused.text
    place["village"] = str(county.world.village_b.id)
    assert (await client.post(f"/crosscheck/children/{child.id}/village", data=place)).status_code == 303
    done = await client.post(f"/crosscheck/runs/{run.id}/confirm", data=form)
    assert "新开“疑似失学”案件 1 个" in (await client.get(done.headers["location"])).text
    placed = (await _children(uow_factory, run.id))[unplaced]
    assert placed.decision == "opened" and placed.village_id == county.world.village_b.id
    late = await client.post(f"/crosscheck/children/{child.id}/village", data=place)
    assert late.status_code == 422 and "已经处理过" in late.text
