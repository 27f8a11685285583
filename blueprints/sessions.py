"""Sessions: the signed-in user read from the session each request (and, when that session has
ended, a word to the person saying who ended it), the way to the sign-in page for a page that
needs one, and the actions of the profile's sessions list: sign out one session, or every other
one (POST + CSRF).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_required, login_url

import accounts
import providers
from accounts import sessions, signals
from models import SessionEnd, User
from ops import security_events

bp = Blueprint("sessions", __name__)

# The keys Flask-Login keeps in the session cookie for a signed-in user.
_LOGIN_KEYS = ("_user_id", "_fresh", "_id")
SIGN_IN_FIRST = "Please sign in to see that page."
# Set on `g` when this request told the person that their session ended (and who ended it).
_ENDING_SAID = "session_ending_said"


def load_signed_in_user(key: str) -> User | None:
    """Flask-Login's user loader: the session's user; for a session that has ended, none, and
    the cookie forgets it, with a message saying who ended it (once, not on every request)."""
    user = accounts.load_user(key)
    if user is None:
        ended = sessions.ended_session(key)
        for name in _LOGIN_KEYS:
            session.pop(name, None)
        if ended is not None:
            flash(_why_ended(ended), "info")
            g.setdefault(_ENDING_SAID, True)
            signals.ended_session_noticed.announce(session=ended)
    return user


def ask_to_sign_in():
    """Flask-Login's unauthorized handler: the sign-in page, with the page asked for as `next`,
    as Flask-Login's own does; its word on why is left out when the person has just been told
    that their session ended, which says it better.

    Only a page (a GET) comes back as `next`: an action posted from a tab whose session has
    ended cannot be redone by a redirect, and sending the person to its URL after the sign-in
    would answer 405.
    """
    if not g.get(_ENDING_SAID):
        flash(SIGN_IN_FIRST, "message")
    next_url = request.url if request.method == "GET" else None
    return redirect(login_url(current_app.login_manager.login_view, next_url=next_url))


def _why_ended(ended) -> str:
    if ended.end_reason == SessionEnd.PROVIDER:
        provider = providers.get(ended.provider or "")
        title = provider.title if provider else ended.provider
        return (
            f"{title} ended your session: you signed out there, or your account there was "
            "signed out. Sign in again to continue."
        )
    if ended.end_reason == SessionEnd.SIGNED_OUT_ELSEWHERE:
        return "This session was signed out from another of your sessions."
    return "You are signed out."


@bp.post("/profile/sessions/<int:session_id>/end")
@login_required
def end(session_id: int):
    """Sign out one of the person's other sessions (their own is ended with Sign out)."""
    if current_user.current_session.id == session_id:
        abort(400)
    if sessions.end_session_of(current_user, session_id):
        security_events.emit("end_session", user_id=current_user.id, session=session_id)
        flash("That session is signed out.", "info")
    else:
        # Not theirs, or already ended: either way, nothing of it is signed in any more.
        flash("That session was already signed out.", "info")
    return redirect(url_for("profile.show"), code=303)


@bp.post("/profile/sessions/end-others")
@login_required
def end_others():
    ended = sessions.end_others(current_user, keep=current_user.current_session)
    security_events.emit("end_other_sessions", user_id=current_user.id, sessions=ended)
    flash(f"Signed out {ended} other session{'' if ended == 1 else 's'}.", "info")
    return redirect(url_for("profile.show"), code=303)
