"""Logging that cannot leak a secret or be forged: every line this process writes, from this app or
any library (Authlib, urllib3, Werkzeug, SQLAlchemy, gunicorn) at any level, has secret values
masked, and attacker text in it can never start what looks like a new log record.

Where it hooks in, and why there. The text a handler writes is the return value of
`logging.Handler.format`: every stdlib handler (and Werkzeug's, gunicorn's, pytest's,
`logging.lastResort`) calls it from `emit`. `install()` wraps that one method on the base class, so
it covers handlers that exist at install time and those created later: Werkzeug adds its handler on
the first request, Alembic's `fileConfig` replaces the root handlers on every migration, gunicorn
rebuilds its handlers on reload. Filters or formatters set on the handlers found at install time
would miss all of those. Overriding only `formatException` would not do either: `Formatter.format`
caches the traceback text on the record, so a second handler reuses whatever the first one
rendered. Masking the whole formatted text covers the message, the traceback, the stack info and any
extra field a deployment's format string adds.

The rule for line breaks. One record may span several lines (a traceback must stay readable), but
every line after its first starts with `CONTINUATION` ("  | "). Attacker text (an exception message,
a provider's error, a crafted URL) can therefore never start a line of its own: not one that looks
like a timestamped record, and not one that a line-by-line reader would take for a JSON security
event (see security_events.py): JSON parsers skip leading spaces, so an indent alone would not do,
but no JSON text starts with "|". The message itself stays on one line (line breaks in it are
escaped), since a line break in a message is data, not structure. Other line separators (\\r,
\\v, \\f, U+2028, ...) are always escaped: a terminal or a log viewer breaks or overwrites the
line there.

Records keep `msg` and `args` as logged, so tools that group records by their template (Sentry and
the like read `record.msg` and `record.args`) still can; records are `MaskedLogRecord`s, whose
`getMessage()` gives the masked message. Nothing here raises into the code that logs (but a
RecursionError, which logging itself lets through): a bad format string or an argument whose
`__str__` raises renders a placeholder naming the template and the error, where `logging` would
print `record.args` unmasked to stderr (`Handler.handleError`). That report, for the errors still
left (a full disk, a closed stream), is masked the same way.

Limits: a handler that sends the record itself instead of its formatted text (Sentry's, which
also sends `args` and the exception object; `HTTPHandler`; `SocketHandler`, which pickles the
cached traceback text) gets the masked `getMessage()` but needs its own scrubbing for the rest.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any

# Names whose values are secrets wherever they appear: query strings, form bodies, dict reprs,
# JSON. Werkzeug logs request lines with the callback's code and state; Authlib logs issued
# token dicts at DEBUG.
_SECRET_NAMES = "|".join(
    [
        *("code", "state", "nonce", "session_state", "code_verifier", "client_secret"),
        *("access_token", "refresh_token", "id_token", "id_token_hint", "password", "token"),
    ]
)
_PATTERNS = (
    # ?code=...&state=...  (and form bodies, also quoted: the repr of a body, a source line)
    re.compile(rf"(?i)((?:^|[?&\s\"'])(?:{_SECRET_NAMES})=)[^&\s\"']*"),
    # the same inside an encoded URL: %26code%3D...
    re.compile(rf"(?i)((?:%3F|%26)(?:{_SECRET_NAMES})%3D)(?:(?!%26)[^&\s\"'])*"),
    # 'access_token': '...'  or  "access_token": "..."
    re.compile(rf"(?i)(['\"](?:{_SECRET_NAMES})['\"]\s*:\s*['\"])[^'\"]*"),
    # Authorization: Bearer ... / Basic ...
    re.compile(r"(?i)(\b(?:Bearer|Basic)\s+)[A-Za-z0-9\-._~+/=%]+"),
    # Any compact JWT (an ID token, a signed access token) wherever it shows up.
    re.compile(r"()\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    # SQLAlchemy's error text lists the statement's bound values (a nonce, a state) by position,
    # with no name to match, unless the engine was created with hide_parameters=True. The list
    # ends at "]" before a line break, real or escaped (in a repr, in a JSON event), else at the
    # end of the line.
    re.compile(r"(?m)(\[parameters: ).*?(?=\](?:\\n|$)|$)"),
)

# What every line of a record after its first starts with.
CONTINUATION = "  | "
# Every character str.splitlines() breaks at, as the escape a reader sees instead.
_LINE_BREAKS = {
    "\n": "\\n",
    "\r": "\\r",
    "\v": "\\x0b",
    "\f": "\\x0c",
    "\x1c": "\\x1c",
    "\x1d": "\\x1d",
    "\x1e": "\\x1e",
    "\x85": "\\x85",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_ESCAPE_LINE_BREAKS = str.maketrans(_LINE_BREAKS)
_ESCAPE_ALL_BUT_NEWLINE = str.maketrans({k: v for k, v in _LINE_BREAKS.items() if k != "\n"})

_SQL_PARAMETERS_HIDDEN = "[SQL parameters hidden]"
# Marks what install() put in place, so that a second call (create_app runs once per test) adds
# nothing.
_INSTALLED = "_log_safety_installed"


def _mask(text: str) -> str:
    """The text with every secret value replaced by [redacted]."""
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


def redact(text: str) -> str:
    """The text with secret values masked and every line break escaped: one line."""
    # Mask first: an escaped "\n" would read as part of the value before it.
    return _mask(text).translate(_ESCAPE_LINE_BREAKS)


# The development server's start-up banner: a warning line, then " * Running on ..." lines. Its
# first line may be wrapped in terminal colour codes.
_SERVER_BANNER = re.compile(r"^(?:\x1b\[[\d;]*m)*WARNING: This is a development server\.")


def _server_banner(record: logging.LogRecord) -> bool:
    """Whether the record is the development server's start-up banner, to be written with its
    line breaks as it is.

    Werkzeug logs the banner as one message with line breaks and no arguments; its lines name the
    address the server listens on, nothing from a request or a provider. Any other record keeps
    its line breaks escaped (werkzeug's own "Error on request" traceback included).
    """
    if record.name != "werkzeug" or record.args or not isinstance(record.msg, str):
        return False
    first, *rest = record.msg.split("\n")
    return bool(_SERVER_BANNER.match(first)) and all(line.startswith(" * ") for line in rest)


def _contain(text: str) -> str:
    """A formatted record with secrets masked and every line after its first marked as its own."""
    # The message in it was masked and escaped already; masking it again may also hide what
    # follows a masked value and an escaped line break, up to the next space or quote: it errs
    # on the side of hiding.
    first, *rest = _mask(text).translate(_ESCAPE_ALL_BUT_NEWLINE).split("\n")
    return "\n".join([first, *(CONTINUATION + line for line in rest)])


def _safe_str(value: object) -> str:
    """str(value), or a stand-in when its __str__ raises."""
    try:
        return str(value)
    except RecursionError:  # as logging does (bpo-36272): let it surface rather than loop
        raise
    except Exception:
        return f"<{type(value).__name__} object>"


def _describe(error: BaseException) -> str:
    """An error as a traceback's last line shows it."""
    return f"{type(error).__name__}: {_safe_str(error)}"


def _unformattable(record: logging.LogRecord, error: Exception) -> str:
    """What the log shows instead of a message that cannot be built: enough to find the call."""
    args = record.args
    kinds = (
        ", ".join(type(a).__name__ for a in args)
        if isinstance(args, tuple)
        else type(args).__name__
    )
    return (
        f"[unformattable log message {_safe_str(record.msg)!r} with arguments of type "
        f"({kinds}): {_describe(error)}]"
    )


def _sql_parameters_hidden(record: logging.LogRecord) -> str | None:
    """SQLAlchemy's echo of bound values, without the values; None for any other record."""
    # The engine logs "[%s] %r" % (cache stats, parameters) after each statement; a logging
    # token may prefix the template.
    msg, args = record.msg, record.args
    if (
        record.name.startswith("sqlalchemy.engine")
        and isinstance(msg, str)
        and msg.endswith("[%s] %r")
        and isinstance(args, tuple)
        and len(args) >= 2
    ):
        return (msg[: -len("%r")] + "%s") % (*args[:-1], _SQL_PARAMETERS_HIDDEN)
    return None


class MaskedLogRecord(logging.LogRecord):
    """A log record whose message comes out masked, on one line, and never raises."""

    def getMessage(self) -> str:  # noqa: N802 (logging's name)
        """The message with secrets masked and line breaks escaped, or a placeholder."""
        try:
            message = _sql_parameters_hidden(self)
            if message is None:
                message = super().getMessage()
        except RecursionError:
            raise
        except Exception as error:  # a bad format string, an argument whose __str__ raises
            message = _unformattable(self, error)
        if _server_banner(self):
            return _mask(message).translate(_ESCAPE_ALL_BUT_NEWLINE)
        return redact(message)


def _upgrade(record: logging.LogRecord) -> logging.LogRecord:
    """Make a plain LogRecord a MaskedLogRecord, in place."""
    # Only a plain LogRecord: a subclass from another library keeps its own getMessage (its
    # output is still masked as a whole by the handler). Its msg and args stay as they are.
    if type(record) is logging.LogRecord:
        record.__class__ = MaskedLogRecord
    return record


def _message(record: logging.LogRecord) -> str:
    """The record's masked one-line message, whatever kind of record it is."""
    try:
        return redact(record.getMessage())
    except RecursionError:
        raise
    except Exception as error:
        return redact(_unformattable(record, error))


def _masking_factory(make_record: Callable[..., logging.LogRecord]) -> Callable[..., Any]:
    """A record factory that chains to `make_record` and returns MaskedLogRecords."""

    def make_masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        # Computes nothing: a record below every handler's level costs nothing more.
        return _upgrade(make_record(*args, **kwargs))

    setattr(make_masked_record, _INSTALLED, True)
    return make_masked_record


_Format = Callable[[logging.Handler, logging.LogRecord], str]


def _contained_format(format_record: _Format) -> _Format:
    """Handler.format around `format_record`, whose text is always masked and contained."""

    def format(self: logging.Handler, record: logging.LogRecord) -> str:
        """The handler's text for the record: masked, contained, and never an exception."""
        _upgrade(record)  # created before install(), or by a factory that does not chain
        try:
            text = format_record(self, record)
        except RecursionError:
            raise
        except Exception as error:  # e.g. a format string naming a field the record lacks
            text = (
                f"{record.levelname} {record.name}: "
                f"[log record could not be formatted: {_describe(error)}] {_message(record)}"
            )
        if _server_banner(record):
            return _mask(text).translate(_ESCAPE_ALL_BUT_NEWLINE)
        return _contain(text)

    setattr(format, _INSTALLED, True)
    return format


def _report_handler_error(self: logging.Handler, record: logging.LogRecord) -> None:
    """Report a failed emit on stderr as logging does, masked and without the raw arguments."""
    if not (logging.raiseExceptions and sys.stderr):
        return
    report = "".join(traceback.format_exception(sys.exception()))
    report += f"Logged from file {record.pathname}, line {record.lineno}\n"
    report += f"Message: {_message(record)}"
    with contextlib.suppress(OSError, ValueError):  # stderr itself is gone: nothing to tell
        sys.stderr.write("--- Logging error ---\n" + _contain(report) + "\n")


setattr(_report_handler_error, _INSTALLED, True)


def install() -> None:
    """Mask every log line this process writes, from every handler, now or added later."""
    make_record = logging.getLogRecordFactory()
    if not getattr(make_record, _INSTALLED, False):
        logging.setLogRecordFactory(_masking_factory(make_record))
    if not getattr(logging.Handler.format, _INSTALLED, False):
        logging.Handler.format = _contained_format(logging.Handler.format)
    if not getattr(logging.Handler.handleError, _INSTALLED, False):
        logging.Handler.handleError = _report_handler_error
