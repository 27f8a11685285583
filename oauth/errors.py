"""Why a conversation with a provider failed: each error carries a stable reason code for the
logs and a sentence for the person in the browser. Views turn them into pages.
"""


class ProviderError(Exception):
    """A provider interaction failed; nothing was stored."""

    #: HTTP status of the page that explains it.
    status = 400
    #: What the person should do next.
    advice = "Please start again."

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class SignInCancelled(ProviderError):
    """The person declined at the provider (consent denied)."""

    advice = "Nothing was changed. You can sign in again whenever you like."


class SignInRejected(ProviderError):
    """A security check failed: the response is not trusted and was discarded."""


class ProviderUnavailable(ProviderError):
    """The provider did not answer, answered late, or answered with a server error."""

    status = 502
    advice = "Please try again in a minute."


class ProviderMisconfigured(ProviderError):
    """This app's configuration for the provider does not match what the provider says."""

    status = 503
    advice = "The site's administrator needs to fix the provider's settings."


class GrantRevoked(ProviderError):
    """The provider no longer honours the grant (`invalid_grant`): the user must reconnect."""


class AccessTokenRejected(ProviderError):
    """The provider's API refused the access token (HTTP 401)."""


class InsufficientScope(ProviderError):
    """The API needs a scope the access token lacks (403 `insufficient_scope`, RFC 6750 §3.1):
    not an error for the person, but a permission to ask for."""

    status = 403
    advice = "You can allow it and come back."

    def __init__(self, reason: str, message: str, scopes: tuple[str, ...]) -> None:
        super().__init__(reason, message)
        #: The scopes the resource server named, possibly none.
        self.scopes = scopes


class StepUpRequired(ProviderError):
    """The API wants a fresher or stronger sign-in (401 `insufficient_user_authentication`,
    RFC 9470): the person proves who they are again, then comes back."""

    status = 401
    advice = "Sign in again at the provider to continue."

    def __init__(self, reason: str, message: str, acr_values: str | None) -> None:
        super().__init__(reason, message)
        #: The authentication context classes the API named (its `max_age` needs no keeping:
        #: the new sign-in asks for max_age=0, which satisfies any).
        self.acr_values = acr_values
