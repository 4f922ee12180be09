"""SQLAlchemy 2 tables. Plain data, no behaviour; rules live in `domain/`."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}  # noqa: RUF012


class Area(Base):
    """County → township → village (乡镇/村), one tree."""

    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))  # province | city | county | township | village
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)


class School(Base):
    __tablename__ = "schools"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)  # its township
    stage: Mapped[str] = mapped_column(String(16), default="primary")  # primary | junior | nine_year


class SchoolClass(Base):
    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("school_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    grade: Mapped[int] = mapped_column(Integer)  # 1-9
    name: Mapped[str] = mapped_column(String(50))


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    role: Mapped[str] = mapped_column(String(24))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    # The person's own choice (chat language menu or dashboard switch); domain/people/language.py decides.
    language: Mapped[str | None] = mapped_column(String(8))
    # What their chat client last reported (zh_CN/en), for what is sent to them while they are not talking.
    reported_language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_active_at: Mapped[datetime | None]


class TeachingAssignment(Base):
    """Which classes a teacher answers for (班主任包班、科任教师包人)."""

    __tablename__ = "teaching_assignments"
    __table_args__ = (UniqueConstraint("staff_id", "class_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    is_class_teacher: Mapped[bool] = mapped_column(Boolean, default=False)


class ChannelAccount(Base):
    """A person's account on one chat channel, bound by an invite (migration 0021).
    A person has at most one per channel and may have both; reminders go to one of them, never to both."""

    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("channel", "account"), UniqueConstraint("staff_id", "channel"))
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))  # the channel's user id, as text
    conversation: Mapped[str] = mapped_column(String(64))  # where messages to this person go on the channel
    bound_at: Mapped[datetime]
    unreachable_since: Mapped[datetime | None]


class Invite(Base):
    """Single-use, expiring onboarding code; only its hash is stored."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_account: Mapped[str | None] = mapped_column(String(96))  # "<channel>:<account>" (0021)


class Student(Base):
    __tablename__ = "students"
    id: Mapped[int] = mapped_column(primary_key=True)
    # 学籍号; a child on no school roll (失学) gets an internal placeholder (domain.school_age.out_of_school), never shown
    student_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    sex: Mapped[str] = mapped_column(String(1))  # M | F
    birth_date: Mapped[date] = mapped_column(Date)
    national_id: Mapped[str | None] = mapped_column(String(18))  # shown masked outside authorised exports
    # Both None for a child on no school roll (失学, migration 0019): home_village_id is then the village
    # of the current address, and the child is seen by that village's cadre and the officers above it.
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"), index=True)
    home_village_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    guardian_name: Mapped[str | None] = mapped_column(String(50))
    guardian_relation: Mapped[str | None] = mapped_column(String(20))
    guardian_phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_residence: Mapped[str | None] = mapped_column(String(200))  # 户籍地 (migration 0009)
    current_address: Mapped[str | None] = mapped_column(String(200))  # 现住址, when it differs
    anonymised_at: Mapped[
        datetime | None
    ]  # personal details removed (domain.privacy.erasure, migration 0012)


class Code(Base):
    """Editable code lists: official classification codes (DOMAIN.md §4) and key-group flags (§7)."""

    __tablename__ = "codes"
    __table_args__ = (UniqueConstraint("scheme", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(String(32))  # e.g. verification_2019, record_system, key_group
    code: Mapped[str] = mapped_column(String(64))
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    meaning: Mapped[str | None] = mapped_column(Text)
    clears_case: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class StudentFlag(Base):
    __tablename__ = "student_flags"
    __table_args__ = (UniqueConstraint("student_id", "flag"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    flag: Mapped[str] = mapped_column(String(64))  # a `codes.code` of scheme key_group


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # One open case per student at a time; works on SQLite and PostgreSQL alike.
        Index(
            "uq_cases_open_student",
            "student_id",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    # dropout (辍学: left a school roll) | out_of_school (失学: never enrolled), migration 0019
    kind: Mapped[str] = mapped_column(String(16), default="dropout", server_default="dropout")
    category_scheme: Mapped[str | None] = mapped_column(String(32))
    category_code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    responsible_teacher_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    responsible_cadre_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    first_absent_on: Mapped[date | None] = mapped_column(Date)
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    visit_due_at: Mapped[datetime | None]
    verification_due_at: Mapped[datetime | None]
    return_due_at: Mapped[datetime | None]
    returned_on: Mapped[date | None] = mapped_column(Date)
    resolution: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Added by migration 0008 (issue 13): what the case waits for next and by when (domain.casework.steps),
    # kept up to date by every use case, so "overdue" and "no next step" are plain column filters;
    # and the next move the system makes by itself (an absence becoming suspected, a notice expiring).
    next_step: Mapped[str | None] = mapped_column(String(32))
    next_step_due_at: Mapped[datetime | None] = mapped_column(index=True)
    auto_step: Mapped[str | None] = mapped_column(String(32))
    auto_step_due_at: Mapped[datetime | None] = mapped_column(index=True)
    anonymised_at: Mapped[
        datetime | None
    ]  # free text and photos removed (domain.privacy.erasure, migration 0012)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseEvent(Base):
    """Append-only timeline of a case (痕迹化管理): who did what, when."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Escalation(Base):
    """A missed step told to the level above (migration 0008): who has been told so far, and who
    acknowledged it ("我来跟进 / I'll handle it"). Until acknowledged it climbs one level at a time."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("case_id", "step", "anchor"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))  # domain.casework.steps kind
    anchor: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(24))  # the highest role told so far
    raised_at: Mapped[datetime]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]  # the step was done (or no longer applies)


class Attachment(Base):
    """A photo or file kept as evidence; bytes live in the media store, addressed by hash."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # the stored original, without metadata
    # The photo as received (migration 0012): proof of what was sent, and the key that spots a resend.
    received_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    exif_taken_at: Mapped[datetime | None]
    exif_latitude: Mapped[float | None]
    exif_longitude: Mapped[float | None]
    exif_time_mismatch: Mapped[bool] = mapped_column(Boolean, default=False)
    source_file_ref: Mapped[str | None] = mapped_column(String(128))  # the channel's id of the file as sent
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]


class Reminder(Base):
    """Outbox row: a message due to someone; the scheduler claims and sends it exactly once."""

    __tablename__ = "reminders"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    snoozes: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    sent_ref: Mapped[str | None] = mapped_column(String(64))  # the channel's id of the message sent
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    # Added by migration 0004 (issue 5): the first moment the row may be sent (due time moved out of
    # quiet hours, or pushed back by a retry), and how it reaches the recipient: "direct" messages to
    # teachers, "digest" items collected into a coordinator's one daily digest.
    send_after: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(8), default="direct", server_default="direct")


class AuditEntry(Base):
    """Who viewed, exported or changed personal data, when, and from where."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_label: Mapped[str] = mapped_column(String(64))  # e.g. "cli", "<channel>:<account>", "web:alice"
    action: Mapped[str] = mapped_column(String(32))  # view | export | create | update | bind | denied ...
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))  # channel or IP address
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# Rows kept before updates were keyed by bot (migration 0013) carry bot_id 0: they belong to whichever bot
# this database served then, so every bot reads them as its own until they are pruned.
BEFORE_BOT_KEY = 0


class ProcessedUpdate(Base):
    """Updates already applied, so a redelivered update changes nothing. Update ids are numbered per bot:
    the key is the channel, the bot's id (from its token) and the update id (0013)."""

    __tablename__ = "processed_updates"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime]
    # What the update was answered with, stored with its effect: a redelivery after a kill between the
    # commit and the reply shows it again instead of staying silent (migration 0010).
    reply: Mapped[dict[str, Any] | None]


class InboxUpdate(Base):
    """An incoming update, stored before the channel is told it arrived and deleted once handled: the rows a
    killed process leaves behind are handled again when it starts. Keyed by channel and bot (the channel's
    app: a bot id, an agent id), as ProcessedUpdate (migration 0021)."""

    __tablename__ = "inbox"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column()  # the update as the channel's adapter keeps it
    # A channel whose rows several processes drain (migration 0022): a sender's rows are handled in the
    # order they were sent, each by the one process whose claim on it has not lapsed; a failed row waits
    # (claimed_until) longer after each attempt. A channel read by a single poller leaves these empty.
    sender: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_inbox_channel_bot_id_sender_sent_at", "channel", "bot_id", "sender", "sent_at"),
    )


class ConversationDraft(Base):
    """The current step and answers of one person's form in one conversation, saved with every answer.
    Keyed by the channel account the person talks through (migration 0021)."""

    __tablename__ = "conversation_drafts"
    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    form: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Bumped on every saved answer: buttons carry it, so a stale or double-tapped button is recognised,
    # and two processes writing the same draft cannot both win. A new form starts at a random number, so
    # a button left from an earlier form in the chat never matches the current form's count.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]
    # Set on submit: the answers are dropped and the row kept a few days as a receipt of what was saved
    # ({"text", "case", "delivered"}), so a later tap on the form's buttons can say so (migration 0015).
    submitted_at: Mapped[datetime | None]
    receipt: Mapped[dict[str, Any] | None]

    __mapper_args__ = {"version_id_col": seq, "version_id_generator": lambda v: next_seq(v)}  # noqa: RUF012


def next_seq(seq: int | None) -> int:
    """A form's first number is random (below 2^30, leaving room under Integer's 2^31 to count up)."""
    return secrets.randbelow(1 << 30) + 1 if seq is None else seq + 1


class Counter(Base):
    """Named sequences (case numbers) that work the same on both databases."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class AccessToken(Base):
    """A channel's API access token (e.g. a 7 200 s token from the channel's API), shared by every process so they do not
    each fetch one: channels limit how often a token may be fetched (0021)."""

    __tablename__ = "access_tokens"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # "<channel>:<app>", chosen by the adapter
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    refreshed_at: Mapped[datetime]


class Lease(Base):
    """Who does a job only one process may do at a time (the scheduler), and until when (migration 0005)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))  # the holding process: host:pid:random
    since: Mapped[datetime]  # when this holder took it (unchanged by renewals)
    expires_at: Mapped[datetime]


class SendBudget(Base):
    """The bot's message budget shared by every process on PostgreSQL: the theoretical arrival time of
    the next message (GCRA) in seconds of the database's clock (bot.limits, migration 0010)."""

    __tablename__ = "send_budget"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tat: Mapped[float] = mapped_column(Float)


class WebUser(Base):
    """A dashboard login for a staff member (principals, township and county officers, admins)."""

    __tablename__ = "web_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    can_export_pii: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class LoginFailure(Base):
    """Failed dashboard logins of one username from one client address (migration 0014). Keyed by a hash
    of the typed username, known or not, so the lock-out says nothing about which accounts exist."""

    __tablename__ = "login_failures"
    username_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime] = mapped_column(index=True)


class WebSession(Base):
    """A server-side login session; the cookie holds a random id whose hash is stored here."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="zh_CN")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A bearer token for integrations using /api/v1, scoped like the staff member it belongs to."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # API_TOKEN_TTL_DAYS after creation; refused from then on
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class OverviewSnapshot(Base):
    """The overview numbers of one large scope as of `computed_at` (domain.reports.overview_snapshots), so a
    county or province overview is one row read instead of a pass over every case."""

    __tablename__ = "overview_snapshots"
    scope_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # domain.reports.tally.scope_key
    computed_at: Mapped[datetime]
    cases: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column()


class MonthlyReportConfirmation(Base):
    """A school's 一月一报告 checked and submitted by its principal (migration 0016): who and when. The
    county lists schools in scope whose last month has none by the policy day (domain.reports.confirmations)."""

    __tablename__ = "monthly_report_confirmations"
    __table_args__ = (UniqueConstraint("school_id", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the reported month
    confirmed_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    confirmed_at: Mapped[datetime]


class HomeTeachingPlan(Base):
    """送教上门 一人一案 (migration 0017): the plan of a child assessed for home teaching; one per child,
    edited in place. Not a case: the reminders it drives are keyed by plan, never by case."""

    __tablename__ = "home_teaching_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), unique=True)
    teacher_ids: Mapped[list[Any]] = mapped_column(default=list)  # staff ids who teach at home
    cadence: Mapped[str] = mapped_column(String(8))  # week | month
    sessions_per_period: Mapped[int] = mapped_column(Integer)
    minutes_per_session: Mapped[int] = mapped_column(Integer)
    content_areas: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    review_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    assessment_ref: Mapped[str] = mapped_column(String(100))  # the disability assessment's reference
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class HomeTeachingSession(Base):
    """One home-teaching session as logged by a teacher (migration 0017)."""

    __tablename__ = "home_teaching_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("home_teaching_plans.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    child_state: Mapped[str] = mapped_column(String(16))  # domain.home_teaching.plans.CHILD_STATES
    note: Mapped[str | None] = mapped_column(Text)
    photo_ids: Mapped[list[Any]] = mapped_column(default=list)  # attachments (no case)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]


class CrosscheckRun(Base):
    """One saved cross-check (四查三比对) of a county (migration 0018): the lists it read and its counts.
    Its children are the county's ledger of school-age children (适龄儿童台账) until the next run."""

    __tablename__ = "crosscheck_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)  # the county it covers
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    cutoff: Mapped[date] = mapped_column(Date)  # the age cut-off day (domain.crosscheck.buckets.AgeRule)
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)  # list -> {"file", "rows", "skipped"}
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # bucket -> children
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("crosscheck_runs.id"))


class CrosscheckChild(Base):
    """One child of a saved cross-check, with its bucket and, once a person decided, what was done
    (migration 0018). Names and ID numbers are here as the lists gave them: shown masked outside
    authorised exports, like the roster's."""

    __tablename__ = "crosscheck_children"
    __table_args__ = (UniqueConstraint("run_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crosscheck_runs.id"), index=True)
    key: Mapped[str] = mapped_column(String(24))  # domain.crosscheck.proposal.child_key, stable across runs
    bucket: Mapped[str] = mapped_column(String(16), index=True)  # domain.crosscheck.buckets.BUCKETS
    reason: Mapped[str] = mapped_column(String(48))  # catalog key under crosscheck.reason.
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    change: Mapped[str] = mapped_column(String(8))  # new | changed | same, against the previous run
    confidence: Mapped[float | None]
    method: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(50))
    national_id: Mapped[str | None] = mapped_column(String(18))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))  # M | F
    registered_address: Mapped[str | None] = mapped_column(String(200))
    current_address: Mapped[str | None] = mapped_column(String(200))
    # Where the child lives: the roster pupil's home village, else found in the addresses; None when
    # no village of the county could be told (the county officer assigns it).
    village_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))  # school of record, if ours
    school_label: Mapped[str | None] = mapped_column(String(100))  # the school as the record names it
    student_number: Mapped[str | None] = mapped_column(String(32))
    record_status: Mapped[str | None] = mapped_column(String(16))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)  # roster pupil
    poverty: Mapped[bool] = mapped_column(Boolean, default=False)
    disability: Mapped[str | None] = mapped_column(String(40))  # type and grade from the 残联 list
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # candidates, source rows
    decided_at: Mapped[datetime | None]  # confirmed (case opened or evidence added) or set aside
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decision: Mapped[str | None] = mapped_column(String(16))  # opened | evidence | set_aside
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)


# The sender's claim query: due rows by state, oldest first (migration 0004).
Index("ix_reminders_state_send_after", Reminder.state, Reminder.send_after)
# The case list and the API, newest first (migration 0006).
Index("ix_cases_opened_at_id", Case.opened_at, Case.id)
