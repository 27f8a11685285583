"""The pages a person sees at the provider: home, sign in / sign out, the authorization endpoint
(validate the client's request, given in the URL or pushed beforehand and named by its
`request_uri`; ask for consent, scope by scope; answer with a code or an error), the end-session
endpoint (RP-initiated logout: confirm if needed, sign out, return to the client) and the
connected applications (what the person allowed, taking one scope back, revoking it all).
Whenever a session ends here, the clients that took part in it are told over the back channel
(`backchannel.py`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InsecureTransportError, InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.datastructures import MultiDict

from blueprints import next_url
from demo_provider import (
    backchannel,
    connected_apps,
    consent,
    grants,
    logout_requests,
    par,
    scopes,
    server,
    sessions,
    throttling,
    users,
)
from demo_provider.extensions import db
from demo_provider.models import User

bp = Blueprint("views", __name__)

# Form fields of the consent page that are not part of the client's authorization request. A
# client that puts one of these names in its request has it dropped, so that it can neither
# decide nor tick a scope for the person.
_CONSENT_FIELDS = {"csrf_token", "decision", consent.GRANTED_FIELD}
_MAX_NEXT_LENGTH = 4096
SIGN_IN_THROTTLE = "demo_provider.sign_in_throttle"
_MAX_AGE = re.compile(r"[0-9]{1,10}")


@bp.get("/")
def home():
    """What this is and who is signed in."""
    return render_template("demo_provider/home.html", user=_signed_in_user())


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Username and password form; on success a fresh session and a 303 to `next`."""
    next_path = safe_next(request.values.get("next"))
    if request.method == "GET":
        return _login_page(next_path)

    username = request.form.get("username", "")
    throttle = _sign_in_throttle()
    wait = throttle.retry_after(username, request.remote_addr)
    if wait:
        # Checked before the password, so a guess made while throttled learns nothing.
        error = f"Too many attempts. Wait {throttling.describe_wait(wait)} and try again."
        return _login_page(next_path, error=error), 429, {"Retry-After": str(wait)}

    user = users.authenticate(username, request.form.get("password", ""))
    if user is None:
        throttle.failed(username, request.remote_addr)
        # The same message whether the name or the password was wrong: no user enumeration.
        return _login_page(next_path, error="Wrong username or password.")

    throttle.succeeded(username)
    previous_sid, previous_user_id = session.get("sid"), session.get("user_id")
    # A new session on sign-in, so a session id planted before it is worth nothing (fixation).
    session.clear()
    session["user_id"] = user.id
    session["auth_time"] = int(time.time())
    if previous_sid is not None and previous_user_id == user.id:
        # The same person proving themselves again (prompt=login, max_age) continues their
        # session: the clients holding ID tokens with this sid keep it, and a later sign-out
        # reaches them all. The sid names the session; the fresh signed cookie proves it.
        session["sid"] = previous_sid
    else:
        session["sid"] = sessions.new_sid()
        # Someone else signing in on this browser ends the previous person's session.
        backchannel.session_ended(previous_sid)
    return redirect(_app_url(next_path), code=303)


@bp.post("/logout")
def logout():
    """Sign out of the provider; the clients that took part in the session are told over the
    back channel, and end their own sessions if they registered for it.
    """
    next_path = safe_next(request.form.get("next"))
    ended_sid = session.get("sid")
    session.clear()
    backchannel.session_ended(ended_sid)
    return redirect(_app_url(next_path), code=303)


@bp.get("/authorize")
def authorize():
    """Validate the authorization request, make sure the person is signed in, ask for consent."""
    owner = _resource_owner()
    authorization = server.authorization_server()
    try:
        front = _authorization_request(request.args)
        grant = _validated_grant(authorization, owner, front)
    except OAuth2Error as error:
        return _authorization_error(error)

    params = front.parameters
    if "none" in params.get("prompt", "").split():
        # prompt=none forbids showing any page, and this provider always asks for consent.
        answer = {
            "redirect_uri": grant.redirect_uri,
            "state": params.get("state"),
            "redirect_fragment": grant.ERROR_RESPONSE_FRAGMENT,
        }
        if front.pushed is not None:
            # Answered, so spent: a pushed request gets one answer.
            par.spend(front.pushed)
        if owner is None or _sign_in_too_old(owner, params):
            return _authorization_error(LoginRequiredError(**answer))
        return _authorization_error(ConsentRequiredError(**answer))
    # Authlib sets grant.prompt only for OpenID requests, so a missing sign-in is checked too.
    if owner is None or (
        (grant.prompt == "login" or _sign_in_too_old(owner, params))
        and not front.signed_in_since_opened(owner)
    ):
        # prompt=login and max_age are satisfied by the sign-in about to happen, so they are
        # dropped from the URL the person comes back to (otherwise they would loop); a pushed
        # request keeps them, and knows the person signed in after it was opened.
        return redirect(url_for(".login", next=_authorize_path(request.args)), code=303)

    client = grant.client
    question = _consent_offer(grant, owner, front)
    return render_template(
        "demo_provider/consent.html",
        client_name=client.client_name,
        already_allowed=scopes.describe_names(question.already_allowed),
        fixed=scopes.describe_names(question.fixed),
        optional=scopes.describe_names(question.optional),
        granted_field=consent.GRANTED_FIELD,
        user=owner.user,
        fields=front.form_fields,
        authorize_path=_authorize_path(request.args),
        redirect_host=urlsplit(grant.redirect_uri).netloc,
    )


@bp.post("/authorize")
def authorize_decision():
    """Turn the person's Allow or Deny into a redirect to the client, with `state` and `iss`."""
    owner = _resource_owner()
    request_fields = [
        (key, value) for key, value in request.form.items(multi=True) if key not in _CONSENT_FIELDS
    ]
    if owner is None:
        return redirect(url_for(".login", next=_authorize_path(request_fields)), code=303)

    authorization = server.authorization_server()
    try:
        # Validate again: the hidden fields came back from the browser and may have been edited.
        front = _authorization_request(MultiDict(request_fields))
        grant = _validated_grant(authorization, owner, front)
        if front.pushed is not None and not par.spend(front.pushed):
            # Decided in another tab, or twice at once: the first decision stands alone.
            raise par.InvalidRequestUri("The request_uri was already used.")
    except OAuth2Error as error:
        return _authorization_error(error)

    allowed = request.form.get("decision") == "allow"
    if allowed:
        # Asked again rather than read from the page: the grants it showed may have changed
        # since (a scope taken back in another tab), and the form is the browser's to edit.
        granted = _consent_offer(grant, owner, front).granted_scope(
            request.form.getlist(consent.GRANTED_FIELD)
        )
        grants.consent_to(grant.request, granted)
        # Allow with every box unticked (and no openid) allows nothing: the client hears
        # access_denied, as for Deny, rather than getting a code worth nothing.
        allowed = bool(granted)
    # Deny changes nothing the person allowed before: earlier grants and their tokens stay.
    return authorization.create_authorization_response(
        request=grant.request, grant_user=owner if allowed else None, grant=grant
    )


@bp.route("/end-session", methods=["GET", "POST"])
def end_session():
    """OpenID Connect RP-initiated logout: sign out at once when a trusted id_token_hint names the
    person signed in here, otherwise ask first; then go back to the client only if it registered
    the address. A GET that signs out is allowed here because the hint, not a CSRF token, shows
    that the client holding the person's ID token asked for it.
    """
    if request.method == "POST":
        # The provider's cookie is SameSite=Lax, so a browser leaves it off a cross-site POST:
        # deciding now would mistake a signed-in person for nobody. The same request as a GET (a
        # top-level navigation, which carries the cookie) is decided with the session in view.
        forwarded = {name: request.form.getlist(name) for name in logout_requests.PARAMETERS}
        return redirect(url_for(".end_session", **forwarded), code=303)

    logout_request = logout_requests.check(request.args, _issuer())
    user = _signed_in_user()
    if logout_request.signs_out_without_asking(user):
        return _sign_out(logout_request)
    client = logout_request.client
    return render_template(
        "demo_provider/end_session.html",
        client_name=client.client_name if client is not None else None,
        user=user,
        fields=logout_request.fields,
        return_host=urlsplit(logout_request.return_to).netloc if logout_request.return_to else None,
        problem=logout_request.problem,
    )


@bp.post("/end-session/confirm")
def end_session_decision():
    """The person's answer on the confirmation page: sign out, or stay signed in."""
    if request.form.get("decision") != "sign-out":
        return redirect(url_for(".home"), code=303)
    # Check again: the hidden fields came back from the browser and may have been edited.
    return _sign_out(logout_requests.check(request.form, _issuer()))


@bp.get("/connections")
def connections():
    """The applications the signed-in person allowed, each with a button to revoke it."""
    user = _signed_in_user()
    if user is None:
        return _sign_in_first(".connections")
    lifetime = current_app.config["DEMO_PROVIDER_REFRESH_TOKEN_TTL"]
    return render_template(
        "demo_provider/connections.html",
        user=user,
        connections=connected_apps.for_user(user.id, lifetime),
    )


@bp.post("/connections/<client_id>/scopes/remove")
def remove_connection_scope(client_id: str):
    """Take one scope back from an application (the form's `scope`), then show the list again.
    Anything but one scope the person allowed it is refused: 400 for a malformed form, 404 for a
    scope (or application) they never allowed, so nothing is learnt about other people's grants.
    """
    user = _signed_in_user()
    if user is None:
        return _sign_in_first(".connections")
    names = request.form.getlist("scope")
    if len(names) != 1 or not names[0]:
        abort(400)
    scope = names[0]
    if not scopes.is_optional(scope):
        # openid is what the connection is; taking it back means revoking the application.
        abort(400)
    client_name = connected_apps.take_back(user.id, client_id, scope)
    if client_name is None:
        abort(404)
    description = scopes.DESCRIPTIONS.get(scope, scope)
    flash(
        f"{client_name} can no longer {description[0].lower()}{description[1:]}. "
        "It can ask you again later."
    )
    return redirect(url_for(".connections"), code=303)


@bp.post("/connections/<client_id>/revoke")
def revoke_connection(client_id: str):
    """Take back everything the person allowed this application, then show the list again."""
    user = _signed_in_user()
    if user is None:
        return _sign_in_first(".connections")
    client_name = connected_apps.revoke(user.id, client_id)
    if client_name is None:
        abort(404)
    flash(
        f"{client_name} can no longer use your account: its tokens stopped working. "
        "It will have to ask for your permission again."
    )
    return redirect(url_for(".connections"), code=303)


def _sign_out(logout_request: logout_requests.LogoutRequest):
    """End the provider session (its cookie goes with it), tell every client that took part in
    it over the back channel, the one that asked included (it may run on several instances, and
    only the back channel reaches the others), then return to the client's validated address
    with `state`, or show the signed-out page. The client's refresh tokens are left alone:
    RP-initiated logout ends the session here, and the client revokes its tokens itself
    (RFC 7009) if it wants them gone.
    """
    ended_sid = session.get("sid")
    session.clear()
    backchannel.session_ended(ended_sid)
    if logout_request.return_to is not None:
        return redirect(logout_request.return_to, code=303)
    return render_template("demo_provider/signed_out.html", problem=logout_request.problem)


def _issuer() -> str:
    """The configured issuer, which ID tokens given as hints must name."""
    return current_app.config["DEMO_PROVIDER_ISSUER"]


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path inside this app, by the same rule the client applies to its own
    `next` (encoded variants of "//host" and "/\\host" included)."""
    return next_url.safe_next_url(value, max_length=_MAX_NEXT_LENGTH)


def _app_url(next_path: str | None) -> str:
    """The browser URL for an app-relative path (the mount prefix added), or the home page."""
    if next_path is None:
        return url_for(".home")
    return request.script_root + next_path


def _sign_in_first(endpoint: str):
    """Send the person to sign in, and on to `endpoint`'s page afterwards."""
    # `next` is relative to this app; url_for() includes the mount prefix, which login adds back.
    next_path = url_for(endpoint).removeprefix(request.script_root)
    return redirect(url_for(".login", next=next_path), code=303)


def _login_page(next_path: str | None, error: str | None = None):
    """The sign-in form, listing the demo accounts in development."""
    show_demo_users = current_app.config["DEMO_PROVIDER_SHOW_DEMO_USERS"]
    # Only accounts still on their published password: a password set by the operator is theirs.
    passwords = current_app.config["DEMO_PROVIDER_USER_PASSWORDS"]
    return render_template(
        "demo_provider/login.html",
        next_path=next_path,
        error=error,
        demo_users=users.published_password_users(passwords) if show_demo_users else (),
        username=request.form.get("username", ""),
    )


def _sign_in_throttle() -> throttling.SignInThrottle:
    """The failed sign-in counter of the provider app handling this request."""
    return current_app.extensions[SIGN_IN_THROTTLE]


def _signed_in_user() -> User | None:
    """The person signed in at the provider, if any."""
    user_id = session.get("user_id")
    return db.session.get(User, user_id) if user_id is not None else None


def _resource_owner() -> users.ResourceOwner | None:
    """The signed-in person with their sign-in time, as the authorization endpoint needs it."""
    user = _signed_in_user()
    if user is None:
        return None
    if "sid" not in session:
        # A session signed in before sessions had ids gets one now, so its ID tokens carry it.
        session["sid"] = sessions.new_sid()
    return users.ResourceOwner(
        user=user, auth_time=int(session.get("auth_time", 0)), sid=session["sid"]
    )


def _sign_in_too_old(owner: users.ResourceOwner | None, params) -> bool:
    """Whether the client's `max_age` asks for a more recent sign-in than this one."""
    max_age = params.get("max_age", "")
    # ASCII digits only, and few of them: str.isdigit() also accepts "²", which int() refuses,
    # and int() refuses strings of thousands of digits. Anything else counts as not sent.
    if owner is None or not _MAX_AGE.fullmatch(max_age):
        return False
    return time.time() - owner.auth_time > int(max_age)


def _authorize_path(fields) -> str:
    """The app-relative authorize URL for these request fields, minus what a sign-in satisfies."""
    items = fields.items(multi=True) if hasattr(fields, "items") else fields
    kept = []
    for key, value in items:
        if key == "max_age":
            continue
        if key == "prompt":
            value = " ".join(word for word in value.split() if word != "login")
            if not value:
                continue
        kept.append((key, value))
    return f"{request.path}?{urlencode(kept)}"


@dataclass
class AuthorizationRequest:
    """The parameters an authorization request is decided on: those in the URL or form, or,
    for a pushed request, only those pushed (RFC 9126 section 4).
    """

    parameters: MultiDict
    pushed: par.Pushed | None = None

    @property
    def form_fields(self) -> list[tuple[str, str]]:
        """What the consent form sends back: a pushed request by reference only, so that none
        of it passes through the browser.
        """
        if self.pushed is not None:
            return [("client_id", self.pushed.row.client_id), ("request_uri", self.pushed.uri)]
        fields = self.parameters.items(multi=True)
        return [item for item in fields if item[0] not in _CONSENT_FIELDS]

    def signed_in_since_opened(self, owner: users.ResourceOwner) -> bool:
        """Whether a pushed request's prompt=login or max_age is met by a sign-in since."""
        return self.pushed is not None and self.pushed.signed_in_since_opened(owner.auth_time)

    def oauth_request(self):
        """What Authlib validates: the pushed parameters, or the HTTP request itself."""
        return par.ParametersRequest(self.parameters) if self.pushed is not None else None


def _authorization_request(fields: MultiDict) -> AuthorizationRequest:
    """The request to decide on; with PAR required, only a pushed one (InvalidRequestError,
    sent to the client's redirect URI when that is one it registered).
    """
    request_uri = fields.get("request_uri")
    if par.is_pushed_reference(request_uri):
        pushed = par.open_request(fields.get("client_id"), request_uri)
        return AuthorizationRequest(parameters=pushed.parameters, pushed=pushed)
    if par.required():
        authorization = server.authorization_server()
        raise InvalidRequestError(
            "Push the authorization request to the PAR endpoint first, and send its request_uri.",
            state=fields.get("state"),
            redirect_uri=authorization.verified_redirect_uri(
                authorization.create_oauth2_request(None)
            ),
        )
    return AuthorizationRequest(parameters=fields)


def _consent_offer(grant, owner: users.ResourceOwner, front: AuthorizationRequest) -> consent.Offer:
    """What the consent page asks this person about this validated request."""
    return consent.offer(
        grant.request.scope,
        front.parameters,
        user_id=owner.user.id,
        client_id=grant.client.client_id,
        client_scope=grant.client.scope,
        refresh_token_lifetime=current_app.config["DEMO_PROVIDER_REFRESH_TOKEN_TTL"],
    )


def _validated_grant(authorization, owner, front: AuthorizationRequest):
    """The grant for this authorization request, fully validated, or OAuth2Error."""
    grant = authorization.get_consent_grant(request=front.oauth_request(), end_user=owner)
    if front.pushed is None:
        # Pushed requests were checked for these when they were pushed.
        _reject_request_objects(grant)
    return grant


def _reject_request_objects(grant) -> None:
    """Request objects (`request`, `request_uri`) are not supported; say so instead of ignoring."""
    data = grant.request.payload.data
    for name, error in (
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
    ):
        if name in data:
            raise OAuth2Error(
                error=error,
                redirect_uri=grant.redirect_uri,
                state=data.get("state"),
                redirect_fragment=grant.ERROR_RESPONSE_FRAGMENT,
            )


def _authorization_error(error: OAuth2Error):
    """Redirect an error to the client only when its redirect URI was verified; otherwise show
    it here, because redirecting to an unverified URI would make this an open redirector.
    """
    if error.redirect_uri:
        return server.authorization_server().authorization_error_redirect(error)
    # Authlib refuses plain http except on loopback addresses; say that plainly.
    insecure = isinstance(error, InsecureTransportError)
    return render_template("demo_provider/error.html", error=error, insecure=insecure), 400
