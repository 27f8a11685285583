"""The inspector's command: `flask --app app inspector purge` deletes traces left idle."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from extensions import db
from inspector import flow_trace

inspector_group = AppGroup("inspector", help="Maintain the flow inspector's recorded steps.")


@inspector_group.command("purge")
@click.option(
    "--older-than-hours",
    default=24,
    show_default=True,
    type=click.IntRange(min=0),
    help="Hours since a trace's last step.",
)
def purge_traces_command(older_than_hours: int) -> None:
    """Delete flow inspector traces idle for longer than the given number of hours."""
    purged = flow_trace.purge_idle(timedelta(hours=older_than_hours))
    db.session.commit()
    click.echo(
        f"removed {purged.traces} inspector traces ({purged.steps} steps) "
        f"idle for over {older_than_hours} hours"
    )
