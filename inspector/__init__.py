"""The flow inspector, a teaching plug-in: it listens to the signals the engine and the account
layer send, records each step of the OAuth flow (redacted) for the session that made it, and draws
it at /inspector as a sequence diagram across the four roles. Switched on by its name in
`app.PLUGINS`, which has `create_app` call `init_app(app)`; nothing else imports it, so deleting
this folder and that name leaves a working client.
"""

from __future__ import annotations

from flask import Flask

from inspector import commands, flow_trace, listeners, views


def init_app(app: Flask) -> None:
    """Add the inspector's page, its recorder, its command and, when it is on, its listeners."""
    app.register_blueprint(views.bp)
    flow_trace.init_app(app)
    # Switched off (production's default), it does not listen at all: listening, it would have
    # every profile view send four signals and run a receiver for each, only for the receiver to
    # drop what it heard (3% of the view's instructions). An app switched on later, at run time,
    # calls `listeners.init_app` then.
    if app.config["FLOW_INSPECTOR_ENABLED"]:
        listeners.init_app(app)
    app.cli.add_command(commands.inspector_group)
