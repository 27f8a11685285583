"""What an operator reads in the log: secrets masked in messages, tracebacks and stack info, no
outside text able to start a log line of its own, and logging that never fails the code calling it.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass

import gunicorn.config
import gunicorn.glogging
import pytest
import sqlalchemy as sa

from ops import log_safety
from ops.log_safety import CONTINUATION

# What a forged security event would look like (security events are one JSON line each).
FORGED_EVENT = json.dumps({"event": "sign_in", "outcome": "ok", "user_id": 1})
# Flask's default_handler format, as the app's own lines read.
FLASK_FORMAT = "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"
# Bound to a statement below; never written in a line that a traceback would show.
NONCE = "nonce-4f2a9c"


@dataclass
class Output:
    logger: logging.Logger
    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[str]:
        # splitlines() also breaks at \r, U+2028 and the like, as a log viewer may.
        return self.text.splitlines()


@pytest.fixture
def capture():
    """A logger writing through a real StreamHandler added after install(), like a library's."""
    log_safety.install()
    attached: list[tuple[logging.Logger, logging.Handler, int, bool]] = []

    def attach(name: str = "tests.log_redaction", fmt: str = FLASK_FORMAT) -> Output:
        logger = logging.getLogger(name)
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(fmt))
        attached.append((logger, handler, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        return Output(logger, stream)

    yield attach
    for logger, handler, level, propagate in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture
def log(capture) -> Output:
    return capture()


def assert_no_line_starts_a_record_but_the_first(lines: list[str]) -> None:
    assert not [line for line in lines if line.startswith("{")]
    assert all(line.startswith(CONTINUATION) for line in lines[1:])


def test_an_exception_message_cannot_leak_a_token_or_forge_a_security_event(log):
    try:
        raise ValueError(f"provider said refresh_token=abc\n{FORGED_EVENT}")
    except ValueError:
        log.logger.exception("refresh failed")

    assert "refresh_token=abc" not in log.text
    assert "ValueError: provider said refresh_token=[redacted]" in log.text
    assert CONTINUATION + FORGED_EVENT in log.lines
    assert_no_line_starts_a_record_but_the_first(log.lines)


def test_a_traceback_stays_one_frame_per_line_under_its_record(log):
    try:
        raise ValueError("boom")
    except ValueError:
        log.logger.exception("refresh failed")

    assert log.lines[0].endswith("ERROR in test_log_redaction: refresh failed")
    assert log.lines[1] == CONTINUATION + "Traceback (most recent call last):"
    assert log.lines[-1] == CONTINUATION + "ValueError: boom"


def test_a_line_break_in_the_stack_info_cannot_forge_a_line(log):
    # A frame's file name is printed as it is (template engines name frames after templates):
    # here it carries a token and a line break.
    filename = f"<template /callback?code=abc\n{FORGED_EVENT}>"
    code = compile("logger.warning('checking', stack_info=True)", filename, "exec")
    exec(code, {"logger": log.logger})  # noqa: S102 (fixed test code)

    assert "code=abc" not in log.text
    assert "Stack (most recent call last):" in log.text
    assert CONTINUATION + FORGED_EVENT + '>", line 1, in <module>' in log.lines
    assert_no_line_starts_a_record_but_the_first(log.lines)


def test_stack_info_is_masked(log):
    log.logger.warning("checking", stack_info=True)  # Authorization: Bearer AT-IN-SOURCE

    assert "Stack (most recent call last):" in log.text
    assert "AT-IN-SOURCE" not in log.text
    assert "Bearer [redacted]" in log.text


@pytest.mark.parametrize("line_break", ["\n", "\r", "\r\n", "\u2028", "\x85"])
def test_a_line_break_in_a_message_is_escaped_on_its_one_line(log, line_break):
    log.logger.warning("user said %s", f"hi{line_break}2026-01-01 INFO admin signed in")

    (line,) = log.lines
    assert line.endswith(" INFO admin signed in")
    assert line_break not in line


def test_a_bad_format_string_writes_a_placeholder_and_the_caller_carries_on(log):
    log.logger.warning("user %s signed in from %s", "alice")
    log.logger.warning("next")

    first, second = log.lines
    assert "unformattable log message 'user %s signed in from %s'" in first
    assert "TypeError: not enough arguments for format string" in first
    assert second.endswith("WARNING in test_log_redaction: next")


class Exploding:
    def __str__(self):
        raise RuntimeError(f"cannot show refresh_token=abc\n{FORGED_EVENT}")


def test_an_argument_whose_str_raises_writes_a_placeholder_and_the_caller_carries_on(log):
    log.logger.warning("profile %s loaded", Exploding())
    log.logger.warning("next")

    first, second = log.lines
    assert "unformattable log message 'profile %s loaded'" in first
    assert "with arguments of type (Exploding): RuntimeError: cannot show" in first
    assert "refresh_token=abc" not in first
    assert second.endswith("WARNING in test_log_redaction: next")


def test_a_broken_format_on_a_handler_still_writes_the_masked_message(capture):
    output = capture(fmt="%(request_id)s %(message)s")  # a field this record does not carry
    output.logger.warning("refreshing with %s", "refresh_token=abc")

    (line,) = output.lines
    assert "could not be formatted: ValueError: Formatting field not found" in line
    assert line.endswith("refreshing with refresh_token=[redacted]")


def test_template_and_arguments_reach_a_structured_tool_unchanged(log, monkeypatch):
    seen = []
    call_handlers = logging.Logger.callHandlers

    # Sentry's logging integration reads each record this way, after the handlers ran.
    def call_handlers_then_capture(self, record):
        try:
            return call_handlers(self, record)
        finally:
            seen.append((record.msg, record.args, record.getMessage()))

    monkeypatch.setattr(logging.Logger, "callHandlers", call_handlers_then_capture)
    log.logger.warning("refresh for user %s failed: %s", 7, "refresh_token=abc")

    assert seen == [
        (
            "refresh for user %s failed: %s",
            (7, "refresh_token=abc"),
            "refresh for user 7 failed: refresh_token=[redacted]",
        )
    ]
    assert log.text.endswith("refresh for user 7 failed: refresh_token=[redacted]\n")


def test_a_handler_added_after_install_writes_masked_contained_lines():
    log_safety.install()
    logger = logging.getLogger("tests.log_redaction.late")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # no formatter: logging's default one
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"refresh_token=abc\n{FORGED_EVENT}")
        except ValueError:
            logger.error("failed", exc_info=True)
    finally:
        logger.removeHandler(handler)

    lines = stream.getvalue().splitlines()
    assert "refresh_token=abc" not in stream.getvalue()
    assert lines[0] == "failed"
    assert_no_line_starts_a_record_but_the_first(lines)


def test_a_record_no_handler_takes_is_masked_by_logging_last_resort(capsys):
    log_safety.install()
    logger = logging.getLogger("tests.log_redaction.orphan")
    logger.propagate = False  # no handler anywhere: logging.lastResort writes it to stderr
    try:
        try:
            raise ValueError(f"refresh_token=abc\n{FORGED_EVENT}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.propagate = True

    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "failed"
    assert "refresh_token=abc" not in "\n".join(lines)
    assert_no_line_starts_a_record_but_the_first(lines)


def test_gunicorns_own_error_log_is_masked(tmp_path):
    log_safety.install()
    cfg = gunicorn.config.Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    server_log = gunicorn.glogging.Logger(cfg)
    try:
        try:
            raise ValueError(f"refresh_token=abc\n{FORGED_EVENT}")
        except ValueError:
            server_log.exception("Error handling request /callback/demo?code=abc&state=xyz")
    finally:
        for logger in (server_log.error_log, server_log.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
                handler.close()

    text = (tmp_path / "error.log").read_text()
    assert "abc" not in text.replace("refresh_token=[redacted]", "")
    assert "/callback/demo?code=[redacted]&state=[redacted]" in text
    assert_no_line_starts_a_record_but_the_first(text.splitlines())


def test_a_failed_write_is_reported_without_the_secret(capsys):
    log_safety.install()

    class FullDisk(io.StringIO):
        def write(self, text):
            raise OSError("disk full")

    logger = logging.getLogger("tests.log_redaction.full")
    handler = logging.StreamHandler(FullDisk())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("refreshing with %s", "refresh_token=abc")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    report = capsys.readouterr().err
    assert "--- Logging error ---" in report
    assert "OSError: disk full" in report
    assert "Message: refreshing with refresh_token=[redacted]" in report
    assert "refresh_token=abc" not in report


def test_sql_parameters_never_reach_the_log_even_without_hide_parameters(capture):
    output = capture("sqlalchemy.engine.Engine")
    engine = sa.create_engine("sqlite://")  # hide_parameters left at its default, False
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT :nonce"), {"nonce": NONCE})

    assert "SELECT ?" in output.text  # the engine did log the statement
    assert "[SQL parameters hidden]" in output.text
    assert NONCE not in output.text


def test_sql_parameters_in_a_database_error_never_reach_the_log(log):
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        try:
            connection.execute(sa.text("SELECT * FROM missing WHERE n = :nonce"), {"nonce": NONCE})
        except sa.exc.OperationalError:
            log.logger.exception("sign-in failed")

    assert "no such table: missing" in log.text
    assert "[parameters: [redacted]]" in log.text
    assert NONCE not in log.text


def test_a_database_error_inside_a_json_line_stays_valid_json(capture):
    output = capture("tests.log_redaction.events", fmt="%(message)s")
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        try:
            connection.execute(sa.text("SELECT * FROM missing WHERE n = :nonce"), {"nonce": NONCE})
        except sa.exc.OperationalError as error:
            output.logger.warning("%s", json.dumps({"event": "sign_in", "reason": str(error)}))

    (line,) = output.lines
    assert "[parameters: [redacted]]" in json.loads(line)["reason"]
    assert NONCE not in line


def test_installing_again_marks_continuation_lines_once(log):
    log_safety.install()
    log_safety.install()
    try:
        raise ValueError("boom")
    except ValueError:
        log.logger.exception("failed")

    assert log.lines[-1] == CONTINUATION + "ValueError: boom"
