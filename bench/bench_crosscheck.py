"""The 四查三比对 cross-check at county scale: `python -m bench.bench_crosscheck [--population N --registry N]`.

Writes fictional lists (a household list of N school-age children, a student-record export, a poverty
and a disability list) as CSV and as .xlsx, then runs the engine on each format in a fresh process
(read, match, classify, write the proposal) and prints wall time and the child's peak RSS. The roster
pupils and roll call normally read from the database are generated too (a few thousand absent).
Target (issue 16): 150 000 / 140 000 in under 60 s and under 1 GB.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import xlsxwriter

from domain.privacy.identity import id_check_char

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彩春菊凤梅琳素云莲真环雪荣爱妹霞香月莺媛"
TRADITIONAL = {"陈": "陳", "刘": "劉", "张": "張", "赵": "趙", "吴": "吳"}


def _id(birth: date, seq: int) -> str:
    first17 = f"{430500 + seq % 90:06d}" + birth.strftime("%Y%m%d") + f"{seq % 1000:03d}"
    return first17 + id_check_char(first17)


def generate(folder: Path, population: int, registry: int, seed: int = 16) -> dict[str, list[list[object]]]:
    rnd = random.Random(seed)
    start = date(2010, 9, 1)
    pop: list[list[object]] = [["姓名", "身份证号", "出生日期", "户籍地址", "现住址"]]
    reg: list[list[object]] = [["学籍号", "姓名", "身份证号", "出生日期", "学校", "学籍状态"]]
    seen: set[str] = set()
    n = 0
    while len(pop) <= population:
        n += 1
        birth = start + timedelta(days=rnd.randrange(365 * 10))
        national_id = _id(birth, n)
        if national_id in seen:
            continue
        seen.add(national_id)
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))
        pop.append([name, national_id, None, f"虚构县{n % 20}镇{n % 300}村", None])
        if len(reg) <= registry * 0.97 and rnd.random() < 0.95:
            school = f"虚构县第{n % 180}小学"
            if rnd.random() < 0.02:  # records without an ID number, some in traditional characters
                written = TRADITIONAL.get(name[0], name[0]) + name[1:]
                reg.append([f"J{n:012d}", written, None, birth.isoformat(), school, "在读"])
            else:
                reg.append([f"G{national_id}", name, national_id, None, school, "在读"])
    while len(reg) <= registry:  # pupils registered elsewhere (migrant children)
        n += 1
        birth = start + timedelta(days=rnd.randrange(365 * 10))
        national_id = _id(birth, n + 500_000)
        reg.append(
            [
                f"G{national_id}",
                rnd.choice(SURNAMES) + rnd.choice(GIVEN),
                national_id,
                None,
                "虚构县一中",
                "在读",
            ]
        )
    poor: list[list[object]] = [["身份证号"]]
    poor += [[row[1]] for row in rnd.sample(pop[1:], population // 8)]
    disabled: list[list[object]] = [["身份证号", "残疾类别", "残疾等级"]]
    disabled += [[row[1], "肢体", "二级"] for row in rnd.sample(pop[1:], population // 100)]
    return {"population": pop, "registry": reg, "poverty": poor, "disabled": disabled}


def write_files(folder: Path, tables: dict[str, list[list[object]]]) -> None:
    for key, table in tables.items():
        with (folder / f"{key}.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(table)
        book = xlsxwriter.Workbook(str(folder / f"{key}.xlsx"), {"constant_memory": True})
        sheet = book.add_worksheet("Sheet1")
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write_string(r, c, str(value))
        book.close()


def measure(folder: Path, suffix: str) -> None:
    """The child process: the engine on one format, as the CLI runs it minus the database round trips."""
    from domain.crosscheck.buckets import AgeRule
    from domain.crosscheck.files import read_input
    from domain.crosscheck.match import match
    from domain.crosscheck.proposal import build_proposal, write_proposal
    from storage.crosscheck_queries import RosterPupil

    started = time.perf_counter()
    inputs = {
        k: read_input(k, folder / f"{k}{suffix}") for k in ("population", "registry", "poverty", "disabled")
    }
    read = time.perf_counter()
    # The product's own roster: 20 000 pupils of the record export, 3 % absent at the roll call.
    pupils = [
        RosterPupil(
            i,
            r.number or "",
            r.name or "",
            r.birth_date or date(2015, 1, 1),
            r.national_id,
            "S",
            r.school or "",
            i % 33 == 0,
        )
        for i, r in enumerate(inputs["registry"].rows[:20_000])
    ]
    people = match(
        inputs["population"].rows,
        inputs["registry"].rows,
        pupils,
        inputs["poverty"].rows,
        inputs["disabled"].rows,
    )
    proposal = build_proposal(people, AgeRule.for_day(date(2026, 9, 1)), frozenset({"S"}))
    matched = time.perf_counter()
    write_proposal(proposal, folder / f"proposal{suffix}.xlsx", language="zh_CN")
    done = time.perf_counter()
    counts = " ".join(f"{k}={v}" for k, v in proposal.counts().items())
    print(
        f"read {read - started:.1f}s, match+classify {matched - read:.1f}s, write {done - matched:.1f}s; {counts}"
    )
    if suffix == ".csv":  # the dashboard's save (one format is enough: the rows are the same)
        import asyncio

        print(f"save to SQLite {asyncio.run(save(folder, proposal)):.1f}s")


async def save(folder: Path, proposal: Any) -> float:
    """Saves the proposal as a county's run in a fresh SQLite database (twice: the second is compared
    with the first); returns the seconds of the second save."""
    from sqlalchemy import insert

    from domain.audit import Actor
    from domain.crosscheck.runs import save_run
    from storage.db import make_engine, make_sessionmaker
    from storage.migrate import upgrade
    from storage.models import Area, School, SchoolClass, Student
    from storage.uow import UnitOfWorkFactory

    engine = make_engine(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    try:
        await upgrade(engine)
        factory = UnitOfWorkFactory(make_sessionmaker(engine))
        async with factory() as uow:
            county = Area(code="B-C", name="虚构县", level="county")
            uow.session.add(county)
            await uow.flush()
            towns = [
                Area(code=f"B-T{i}", name=f"虚构县{i}镇", level="township", parent_id=county.id)
                for i in range(20)
            ]
            uow.session.add_all(towns)
            await uow.flush()
            uow.session.add_all(
                Area(code=f"B-V{v}", name=f"{v}村", level="village", parent_id=towns[v % 20].id)
                for v in range(300)
            )
            # The roster pupils the proposal names (the children rows point at them).
            school = School(code="S", name="虚构县第0小学", area_id=towns[0].id)
            uow.session.add(school)
            await uow.flush()
            cls = SchoolClass(school_id=school.id, grade=5, name="五年级(1)班")
            uow.session.add(cls)
            await uow.flush()
            pupils = {p.id: p for e in proposal.entries for p in e.person.pupils}
            rows = [
                {"id": p.id, "student_number": f"B{p.id}", "name": "学生", "sex": "F", "birth_date": p.birth_date,
                 "school_id": school.id, "class_id": cls.id, "active": True}
                for p in pupils.values()
            ]  # fmt: skip
            for start in range(0, len(rows), 2000):
                await uow.session.execute(insert(Student), rows[start : start + 2000])
            await uow.commit()
            county_id = county.id
        took = 0.0
        for _ in range(2):
            started = time.perf_counter()
            async with factory() as uow:
                await save_run(
                    uow,
                    Actor.system("bench"),
                    proposal,
                    county_id=county_id,
                    sources={},
                    now=datetime.now(UTC),
                )
                await uow.commit()
            took = time.perf_counter() - started
        return took
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_crosscheck", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--population", type=int, default=150_000)
    parser.add_argument("--registry", type=int, default=140_000)
    parser.add_argument("--measure", nargs=2, metavar=("FOLDER", "SUFFIX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure[0]), args.measure[1])
        return
    with tempfile.TemporaryDirectory(prefix="nol_crosscheck_") as scratch:
        folder = Path(scratch)
        t0 = time.perf_counter()
        write_files(folder, generate(folder, args.population, args.registry))
        print(
            f"generated {args.population} / {args.registry} rows in {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
        for suffix in (".csv", ".xlsx"):
            before = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "bench.bench_crosscheck", "--measure", scratch, suffix], check=True
            )
            wall = time.perf_counter() - before
            # Peak RSS of the largest child so far: the .xlsx run reads more, so each row is its own peak.
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"{suffix}: {wall:.1f}s wall, peak RSS {peak:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
