"""build_application(services) -> a python-telegram-bot Application with every handler registered."""

from __future__ import annotations

import gc

from telegram import BotCommand, BotCommandScopeDefault
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import bot_id_of
from bot.conversations.catalogue import FORMS
from bot.conversations.engine import Conversations
from bot.handlers import commands, forms, mycases, reminders
from bot.handlers.errors import on_error
from bot.inbox import Inbox, InboxBot, InboxProcessor
from bot.limits import BotRateLimiter
from bot.ports import BotServices
from i18n import t

# Commands shown in Telegram's menu, in menu order.
MENU = ("report", "visit", "return", "rollcall", "homeschool", "mycases", "help", "language", "cancel")


def build_application(
    services: BotServices, *, token: str, base_url: str, base_file_url: str, updater: bool = True
) -> Application:  # type: ignore[type-arg]
    """Registers handlers only; start-up and shutdown belong to the runner. A polling bot keeps each
    fetched update in the inbox until it has been handled (bot.inbox)."""
    inbox = Inbox(services, polling=updater, bot_id=bot_id_of(token))
    bot = InboxBot(
        inbox,
        token,
        base_url=base_url,
        base_file_url=base_file_url,
        rate_limiter=BotRateLimiter(services.send_limiter, max_retries=3),
    )
    builder = Application.builder().bot(bot).concurrent_updates(InboxProcessor(inbox))
    if not updater:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["services"] = services
    application.bot_data["conversations"] = Conversations(FORMS)
    application.add_handler(CommandHandler("start", commands.start))
    application.add_handler(CommandHandler("help", commands.help_command))
    application.add_handler(CommandHandler("language", commands.language_command))
    application.add_handler(CallbackQueryHandler(commands.language_chosen, pattern=r"^lang:"))
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, commands.edited))
    application.add_handler(CommandHandler("mycases", mycases.mycases_command))
    application.add_handler(CallbackQueryHandler(mycases.mycases_page, pattern=r"^mc:"))
    application.add_handler(CallbackQueryHandler(reminders.on_reminder_button, pattern=reminders.PATTERN))
    application.add_handler(MessageHandler(filters.ALL, forms.on_input))
    application.add_handler(CallbackQueryHandler(forms.on_input))
    application.add_error_handler(on_error)
    return application


ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


async def launch(
    application: Application,
    *,
    webhook_url: str | None = None,  # type: ignore[type-arg]
    secret: str = "",
    poll_timeout: int = 10,
) -> None:
    """Initialises and starts the application, sets the menu, then polls or registers the webhook."""
    await application.initialize()
    await application.start()
    await set_command_menu(application)
    if webhook_url:
        await application.bot.set_webhook(webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    else:
        assert application.updater is not None and isinstance(application.bot, InboxBot)
        await application.bot.inbox.replay(application)  # what a killed process left, before anything new
        await application.updater.start_polling(
            poll_interval=0.0, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES
        )


def freeze_startup_heap() -> None:
    """For a bot process's entry point, once launched: everything imported and built at start-up lives
    as long as the process; moved out of the collector's reach, a full collection no longer walks it
    and stalls every step in flight (tens of milliseconds each time, bench/RESULTS.md). Not called by
    launch() itself: a process that launches many bots (the test suite) must keep collecting them."""
    gc.collect()
    gc.freeze()


async def stop_polling(application: Application) -> None:  # type: ignore[type-arg]
    """Stops fetching updates (the first thing a stopping process does); those fetched are still handled."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()


async def shutdown(application: Application) -> None:  # type: ignore[type-arg]
    """Stops polling and the application; safe to call after a failed launch."""
    await stop_polling(application)
    if application.running:
        await application.stop()
    await application.shutdown()


async def set_command_menu(application: Application) -> None:  # type: ignore[type-arg]
    """The command menu in Chinese (default) and English."""
    for language, code in (("zh_CN", None), ("en", "en")):
        await application.bot.set_my_commands(
            [BotCommand(name, t(language, f"command.{name}")) for name in MENU],
            scope=BotCommandScopeDefault(),
            language_code=code,
        )
