"""When `notoneless run` may start, and in which mode: the demo is asked for (DEMO=true), never guessed.

The demo serves /simulator, where anyone can act as any staff member; so it runs only on the loopback
interface, only against the built-in emulator (no bot token) and only on a database that holds nothing
but the fictional demo county (checked by domain.demo.refuse_real_data once the schema is there).
"""

from __future__ import annotations

import ipaddress
import unicodedata

from app.settings import Settings, SettingsError
from domain.demo import DEMO_LOGIN

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (bracketed or not) or localhost; 0.0.0.0 and :: listen on every interface."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_mode(settings: Settings) -> bool:
    """Whether to run the demo; stops start-up with one line when the settings do not fit together."""
    if not settings.demo:
        if settings.token is None:
            raise SettingsError(
                "Invalid setting TELEGRAM_BOT_TOKEN: not set. Set TELEGRAM_BOT_TOKEN (from @BotFather) to run "
                "the bot, or DEMO=true to try the demo on fictional data (scripts/demo.sh). "
                "未设置 TELEGRAM_BOT_TOKEN：正式运行请设置机器人令牌，试用演示请设置 DEMO=true。"
            )
        return False
    if settings.token is not None:
        raise SettingsError(
            "Invalid setting DEMO: the demo talks to the built-in emulator only; unset TELEGRAM_BOT_TOKEN "
            "for the demo, or DEMO for the real bot. 演示模式不连接 Telegram：请去掉令牌或去掉 DEMO。"
        )
    if not is_loopback(settings.web_host):
        raise SettingsError(
            f"Invalid setting WEB_HOST: {settings.web_host!r}; the demo lets anyone act as any staff member, "
            "so it listens on 127.0.0.1, ::1 or localhost only. 演示模式只能监听本机地址。"
        )
    return True


def _width(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def login_box(where: str, password: str | None) -> str:
    """What `notoneless run` prints last in the demo: where to click and the dashboard login."""
    lines = [
        "Not One Less demo (fictional data only) / 一个都不能少 演示（虚构数据）",
        "",
        f"Chat simulator / 聊天模拟器:  {where}/simulator",
        f"Dashboard / 工作台:           {where}/dashboard",
    ]
    if password:
        lines.append(f"  user / 用户名 {DEMO_LOGIN}   password / 密码 {password}   (new on every start)")
    else:
        lines.append("  No demo data yet: stop, run `notoneless demo-data`, start again. 请先生成示例数据。")
    inner = max(_width(line) for line in lines)
    rule = "+" + "-" * (inner + 2) + "+"
    body = [f"| {line}{' ' * (inner - _width(line))} |" for line in lines]
    return "\n".join([rule, *body, rule])
