"""Interop tests: the client against panva's oidc-provider, an OpenID Certified provider run with
Node on 127.0.0.1 (`oidc_server.mjs`; `make test` installs it with `npm ci`)."""
