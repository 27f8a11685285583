"""The rules about people: who a verified identity signs in as, linking and unlinking providers,
deleting an account, sessions; and what is kept for them: the token vault (`tokens`), sign-ins in
flight (`login_attempts`), what the profile shows of each link (`linked_profiles`), and the
signed-in user as each request reads it (`signed_in`, a read-only snapshot).

Views import this package and call its rules (`accounts.sign_in(...)`); the vault and the other
modules are imported by name (`from accounts import tokens`).
"""

from accounts.provider_logout import LogoutTokenReplayed
from accounts.sessions import load_user
from accounts.users import (
    AccountRuleError,
    delete,
    find_link,
    link,
    link_of,
    provider_sign_out_url,
    sign_in,
    unlink,
    verified_email,
)

__all__ = [
    "AccountRuleError",
    "LogoutTokenReplayed",
    "delete",
    "find_link",
    "link",
    "link_of",
    "load_user",
    "provider_sign_out_url",
    "sign_in",
    "unlink",
    "verified_email",
]
