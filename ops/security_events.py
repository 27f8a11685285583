"""Security events: one structured line (JSON) per sign-in, link, unlink, deletion, refresh,
revocation, sign-out and refusal, with a reason code, for audit and alerting. Never a secret.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

logger = logging.getLogger("security")


def init_app(app: Flask) -> None:
    """Give security events a place to go even when the deployment configured no logging."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def emit(
    event: str,
    *,
    outcome: str = "ok",
    reason: str | None = None,
    provider: str | None = None,
    user_id: int | None = None,
    **fields: Any,
) -> None:
    """Log one event. Values are JSON-encoded, so text from a provider cannot break the line."""
    record: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": event,
        "outcome": outcome,
    }
    if has_request_context():
        record["request_id"] = g.get("request_id")
        record["client"] = request.remote_addr
    for name, value in (("provider", provider), ("user_id", user_id), ("reason", reason)):
        if value is not None:
            record[name] = value
    record.update(fields)
    level = logging.INFO if outcome == "ok" else logging.WARNING
    logger.log(level, "%s", json.dumps(record, default=str))
