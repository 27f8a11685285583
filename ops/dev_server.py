"""`make run`: the app with its embedded demo provider on 127.0.0.1:<PORT>, reloading on code and
template changes, with the interactive debugger off (it runs code for whoever reaches it). It
refuses a taken port at once, saying what holds it, applies the database migrations, and greets
the person with what to open.

Run as `python -m ops.dev_server --port 8080` (what `make run PORT=8080` does).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from werkzeug.serving import is_running_from_reloader, run_simple

HOST = "127.0.0.1"
# What holds a port on a laptop, so the message can name it.
KNOWN_PORT_HOLDERS = {
    5000: "on macOS, AirPlay Receiver holds port 5000 (System Settings > General > AirDrop & "
    "Handoff > AirPlay Receiver)",
}


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on host:port now."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def taken_port_message(port: int) -> str:
    """What to tell the person whose port is taken: which, by what usually, and what to run."""
    other = 8080 if port != 8080 else 8081
    holder = KNOWN_PORT_HOLDERS.get(port, "another program, or this app already running")
    return (
        f"Port {port} on {HOST} is already in use ({holder}).\n"
        f"Stop what holds it, or run the app on another port:\n\n    make run PORT={other}\n"
    )


def greeting(app) -> str:
    """The few lines `make run` prints before serving."""
    base_url = app.config["BASE_URL"]
    lines = [f"\n  Open {base_url}/ in your browser."]
    if app.config["DEMO_PROVIDER_ENABLED"] and app.config["DEMO_PROVIDER_EMBEDDED"]:
        lines.append("  Demo Provider users: alice / wonderland, bob / builder.")
    if "inspector" in app.blueprints and app.config["FLOW_INSPECTOR_ENABLED"]:
        lines.append(f"  Every step of a sign-in: {base_url}/inspector")
    lines.append("  Code and templates reload when you save them. Press CTRL+C to stop.\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Check the port, greet, then serve with the reloader (the reloader runs this again)."""
    parser = argparse.ArgumentParser(prog="python -m ops.dev_server", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--no-reload", action="store_true", help="serve without reloading")
    arguments = parser.parse_args(argv)
    # BASE_URL, the embedded provider's issuer and every registered URI follow the port.
    os.environ["PORT"] = str(arguments.port)

    # A taken port is said at once, before anything is built or migrated.
    if not is_running_from_reloader() and not port_is_free(arguments.port):
        sys.stderr.write(taken_port_message(arguments.port))
        return 1

    from flask_migrate import upgrade

    from app import create_app

    app = create_app()
    if not is_running_from_reloader():
        # The schema brought up to date, as `make migrate` does, in this process: one Python
        # start-up less before the app answers.
        with app.app_context():
            upgrade()
        print(greeting(app), flush=True)
    run_simple(
        HOST,
        arguments.port,
        app,
        use_reloader=not arguments.no_reload,
        use_debugger=False,
        threaded=True,  # the embedded provider answers the app's own token request meanwhile
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
