"""Reading a resource server's `WWW-Authenticate` challenges (RFC 9110 §11.6.1): the scheme and
its parameters, as RFC 6750 §3 (Bearer), RFC 9449 §7.1 (DPoP) and RFC 9470 (step-up) use them.
The header is text from outside: it is size-capped, and a malformed part is skipped, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# A challenge header is a few hundred bytes; anything larger is not one.
MAX_LENGTH = 16 * 1024

# RFC 6749 Appendix A NQCHAR (also RFC 9449 §8.1's): printable ASCII without space, double quote
# and backslash, what a scope token, an acr value and a DPoP nonce are made of.
NQCHAR = r"[\x21\x23-\x5b\x5d-\x7e]"
# RFC 9110 §5.6.2 token: an authentication scheme or a parameter name.
TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf"({TCHARS})[ \t]*=[ \t]*({TCHARS}|{_QUOTED})")
_CHALLENGE = re.compile(rf"({TCHARS})(?:[ \t]+(.*))?", re.DOTALL)
_ELEMENT = re.compile(rf"(?:{_QUOTED}|[^,\"])+")


def header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of the header `name` (lower case), from any kind of header mapping."""
    # Header names are case-insensitive, and not every mapping a caller has knows it; a
    # multi-valued mapping (Werkzeug's Headers) yields each value of a repeated header.
    return [
        value
        for key, value in headers.items()
        if isinstance(key, str) and key.lower() == name and isinstance(value, str)
    ]


def parse(headers: Mapping[str, str]) -> list[tuple[str, dict[str, str]]]:
    """The challenges of the response's `WWW-Authenticate` headers, as (scheme, params), with
    parameter names in lower case and the first of a repeated parameter kept."""
    header = ", ".join(header_values(headers, "www-authenticate"))
    if len(header) > MAX_LENGTH:
        return []
    challenges: list[tuple[str, dict[str, str]]] = []
    for element in _ELEMENT.findall(header):
        element = element.strip(" \t")
        param = _PARAM.fullmatch(element)
        if param and challenges:
            # `name=value` after a comma continues the current challenge.
            challenges[-1][1].setdefault(param[1].lower(), _unquote(param[2]))
            continue
        challenge = _CHALLENGE.fullmatch(element)
        if not challenge:
            continue
        params: dict[str, str] = {}
        first = _PARAM.fullmatch(challenge[2] or "")
        if first:
            params[first[1].lower()] = _unquote(first[2])
        challenges.append((challenge[1], params))
    return challenges


def error(headers: Mapping[str, str], schemes: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The `error` of the first challenge under one of `schemes` (lower case) that names one,
    with that challenge's parameters; ("", {}) when none does."""
    for scheme, params in parse(headers):
        if scheme.lower() in schemes and "error" in params:
            return params["error"], params
    return "", {}


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
