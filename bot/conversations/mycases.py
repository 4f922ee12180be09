"""/mycases on any channel: a person's open cases, most urgent first, a page at a time, with the keys of
the buttons for the next action (`go:<form>:<case>`) and for turning the page (`mc:<page>`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.conversations.keys import START_FORM
from bot.conversations.labels import case_label, local_date
from bot.conversations.model import FormContext
from domain.audit import audit
from domain.casework.mycases import CaseItem, my_open_cases

PAGE_SIZE = 8
LIST_PAGE = "mc"  # mc:<page>


@dataclass(frozen=True)
class CasesPage:
    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)  # rows of (label, key)


def page_of(key: str) -> int | None:
    """The page a `mc:<page>` key turns to; None for any other key."""
    head, _, page = key.partition(":")
    return int(page) if head == LIST_PAGE and page.isdigit() else None


async def cases_page(ctx: FormContext, page: int) -> CasesPage:
    """The page (clamped to the pages there are); the view is audited in the caller's transaction."""
    items = await my_open_cases(ctx.uow, ctx.scope, now=ctx.now, policy=ctx.services.policy, tz=ctx.tz)
    if not items:
        return CasesPage(ctx.t("mycases.empty"))
    pages = -(-len(items) // PAGE_SIZE)
    page = min(max(page, 0), pages - 1)
    shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [ctx.t("mycases.header", n=len(items), page=page + 1, pages=pages)]
    rows: list[list[tuple[str, str]]] = []
    for number, item in enumerate(shown, start=page * PAGE_SIZE + 1):
        lines.append(f"\n{number}. {await case_label(ctx, item.case)}\n{_deadline(ctx, item)}")
        if actions := _actions(ctx, number, item):
            rows.append(actions)
    if pages > 1:
        rows.append(_navigation(page, pages))
    audit(ctx.uow, ctx.actor, ctx.now, "view", "case_list", None, page=page + 1, shown=len(shown))
    return CasesPage("\n".join(lines), rows)


def _deadline(ctx: FormContext, item: CaseItem) -> str:
    if item.deadline is None:
        return "   " + ctx.t("mycases.no_deadline")
    text = "   " + ctx.t(
        "mycases.next_step", step=ctx.t(f"step.{item.deadline}"), date=local_date(ctx, item.due_at)
    )
    return text + " " + ctx.t("mycases.overdue") if item.overdue else text


def _actions(ctx: FormContext, number: int, item: CaseItem) -> list[tuple[str, str]]:
    buttons = []
    if item.can_visit:
        buttons.append((ctx.t("mycases.visit_button", n=number), f"{START_FORM}:visit:{item.case.id}"))
    if item.can_return:
        buttons.append((ctx.t("mycases.return_button", n=number), f"{START_FORM}:return:{item.case.id}"))
    return buttons


def _navigation(page: int, pages: int) -> list[tuple[str, str]]:
    nav = []
    if page > 0:
        nav.append(("◀", f"{LIST_PAGE}:{page - 1}"))
    nav.append((f"{page + 1}/{pages}", f"{LIST_PAGE}:{page}"))
    if page < pages - 1:
        nav.append(("▶", f"{LIST_PAGE}:{page + 1}"))
    return nav
