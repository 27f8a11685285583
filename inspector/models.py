"""The flow inspector's own table: the recorded steps of each session's trace, secrets redacted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models import UTCDateTime, utcnow


class FlowStep(db.Model):
    """One message of the OAuth flow as the inspector shows it (development aid, redacted)."""

    __tablename__ = "flow_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A random id kept in the session: it follows the person through the session renewal at
    # sign-in and goes with the session at sign-out.
    trace_id: Mapped[str] = mapped_column(String(64), index=True)
    # Who the steps belong to once someone signed in: their name, e-mail and `sub` are in them,
    # so deleting the account deletes them, and only that person is shown them.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_flow_steps_user_id_users"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sender: Mapped[str] = mapped_column(String(32))
    receiver: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    #: JSON list of [name, value] pairs, secrets already redacted.
    details: Mapped[str] = mapped_column(Text, default="[]")
    note: Mapped[str | None] = mapped_column(Text)
