"""What a WeCom server API call can fail with, typed by what the caller should do about it
(WeCom answers HTTP 200 with a non-zero `errcode`; the codes are its 全局错误码)."""

from __future__ import annotations

SYSTEM_BUSY = -1
TOKEN_REJECTED = frozenset({40014, 41001, 42001})  # invalid, missing, expired access_token
RATE_LIMITED = frozenset({45009, 45033})  # calls over the app's/member's limit; too many at once
# The recipient is not a member the app may write to: unknown or invalid userid, all recipients
# invalid, outside the app's visible range (可见范围).
UNREACHABLE = frozenset({40003, 60111, 81013, 82001})


class WeComApiError(Exception):
    """A call WeCom refused; `errcode` is WeCom's code, `errmsg` its text (never holds a token)."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeCom errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class UnreachableMember(WeComApiError):
    """The recipient cannot be written to (unknown, left, or outside the app): stop, do not retry."""


class RateLimited(WeComApiError):
    """Over WeCom's rate limit or quota: not retried here, the caller sends later."""


class SystemBusy(WeComApiError):
    """errcode -1 (系统繁忙), still answered after the retries."""


class TokenRejected(WeComApiError):
    """The access token was refused (40014/42001): the client refreshes it and tries once more."""


class MediaTooLarge(Exception):
    """A file over the caller's limit: refused from its Content-Length, or once that many bytes came."""


class WeComUnavailable(Exception):
    """No usable answer (5xx, timeout, connection error) after the retries."""


def error_for(errcode: int, errmsg: str) -> WeComApiError:
    """The typed exception for a non-zero errcode."""
    if errcode == SYSTEM_BUSY:
        return SystemBusy(errcode, errmsg)
    if errcode in TOKEN_REJECTED:
        return TokenRejected(errcode, errmsg)
    if errcode in RATE_LIMITED:
        return RateLimited(errcode, errmsg)
    if errcode in UNREACHABLE:
        return UnreachableMember(errcode, errmsg)
    return WeComApiError(errcode, errmsg)
