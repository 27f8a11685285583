"""The flow inspector, a teaching plug-in: it records each step of the OAuth flow (redacted) for
the session that made it, and draws it at /inspector as a sequence diagram across the four roles.
Switched on in `create_app` by `inspector.init_app(app)`; deleting this folder and that line
leaves a working client.
"""

from __future__ import annotations

from flask import Flask

from inspector import commands, flow_trace, views


def init_app(app: Flask) -> None:
    """Add the inspector's page, its recorder and its command to the app."""
    app.register_blueprint(views.bp)
    flow_trace.init_app(app)
    app.cli.add_command(commands.inspector_group)
