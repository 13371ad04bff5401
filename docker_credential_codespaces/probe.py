"""`doctor --check`: log in to a registry's /v2/ the way `docker login` does, stdlib only.

It follows the registry's WWW-Authenticate challenge: Basic, or a Bearer token service that
is given the credentials (how ghcr.io, Docker Hub and ECR Public behave). As docker's login
does, the Basic password goes to the token service even when its realm is on another host.
The answer is one of a few fixed words a person can act on. Nothing here prints or returns a
credential.

Where the password may travel is decided as docker decides it: plain HTTP only to a host that
is this machine for certain, and never through a proxy to it (a proxy is another machine).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

from .constants import (
    IDENTITY_TOKEN_USERNAME,
    LOOPBACK_IPV4_NETWORK,
    LOOPBACK_IPV6,
    LOOPBACK_NAME,
    PROGRAM,
)
from .servers import api_host

OK = "OK"
UNAUTHORIZED = "unauthorized"
WRONG_LOGIN = "wrong user or password"
FORBIDDEN = "forbidden"
UNREACHABLE = "unreachable"
TLS_ERROR = "TLS error"


class Outcome:
    """How a login ended: `summary`, one of the words above or a short phrase, and what it
    was about (`detail`: an error's name, say), or "". doctor keeps both apart."""

    __slots__ = ("detail", "summary")

    def __init__(self, summary: str, detail: str = "") -> None:
        self.summary = summary
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.summary} ({self.detail})" if self.detail else self.summary

    def __repr__(self) -> str:
        return f"Outcome({self.summary!r}, {self.detail!r})"

    @property
    def ok(self) -> bool:
        return self.summary == OK


class _Refused(Exception):
    """The login ended with a known outcome before the final request."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(str(outcome))
        self.outcome = outcome


def _answered(status: int) -> Outcome:
    """What a registry's (or a token service's) HTTP status says of the login."""
    if status == 200:
        return Outcome(OK)
    if status == 401:
        return Outcome(UNAUTHORIZED, WRONG_LOGIN)
    if status == 403:
        return Outcome(FORBIDDEN)
    return Outcome(f"unexpected HTTP {status}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect of /v2/ must not carry the credentials to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# Through the proxy the environment names, as docker goes to a remote registry; and direct.
_PROXIED = urllib.request.build_opener(_NoRedirect())
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def is_loopback(url: str) -> bool:
    """Whether a URL's host is this machine for certain: `localhost` exactly, an address in
    127.0.0.0/8, or [::1]. A name that only starts like one (`localhost-registry.corp.example`,
    `127.0.0.1.corp.example`) is another machine, and gets neither plain HTTP nor a direct line.
    """
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == LOOPBACK_NAME:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.version == 4:
        return address in ipaddress.ip_network(LOOPBACK_IPV4_NETWORK)
    return address == ipaddress.ip_address(LOOPBACK_IPV6)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…"` into ("bearer", {"realm": …, "service": …})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    while rest:
        name, eq, rest = rest.strip().partition("=")
        if not eq:
            break
        if rest.startswith('"'):
            value, _, rest = rest[1:].partition('"')
        else:
            value, _, rest = rest.partition(",")
        params[name.strip().lower()] = value
        rest = rest.lstrip(" ,")
    return scheme.lower(), params


def _request(
    url: str, deadline: float, headers: dict[str, str], data: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request within the deadline; HTTP errors are answers, not exceptions."""
    timeout = max(0.5, deadline - time.monotonic())
    if not url.startswith(("https://", "http://")):
        raise _Refused(
            Outcome(f"the registry named a token service that is not HTTP: {url[:80]!r}")
        )
    request = urllib.request.Request(url, data=data, headers={"User-Agent": PROGRAM, **headers})  # noqa: S310
    opener = _DIRECT if is_loopback(url) else _PROXIED
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read(1 << 20)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers or {}), b""


def _basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")


def login(key: str, username: str, secret: str, timeout: float) -> Outcome:
    """Try the credentials against the registry named by a docker key; OK or what went wrong.

    Each socket operation is bounded by what is left of `timeout`, but a server can still
    answer a byte at a time: the caller bounds the whole login (doctor runs it in a thread).
    """
    host = api_host(key)
    deadline = time.monotonic() + timeout
    schemes = ("https", "http") if is_loopback(f"https://{host}/") else ("https",)
    for scheme in schemes:
        base = f"{scheme}://{host}/v2/"
        try:
            return _login(base, username, secret, deadline)
        except OSError as error:  # URLError, timeouts and TLS failures are all OSErrors
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            if isinstance(reason, ssl.SSLError):
                why = getattr(reason, "reason", None) or type(reason).__name__
                outcome = Outcome(TLS_ERROR, str(why))
            else:
                name = type(reason).__name__ if isinstance(reason, BaseException) else reason
                outcome = Outcome(UNREACHABLE, str(name))
    return outcome


def _login(base: str, username: str, secret: str, deadline: float) -> Outcome:
    status, headers, _ = _request(base, deadline, {})
    if status != 401:  # open, refused, or broken before any credential was asked for
        return _answered(status)
    challenge = {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "")
    scheme, params = parse_challenge(challenge)
    if scheme == "basic":
        status, _, _ = _request(base, deadline, {"Authorization": _basic(username, secret)})
    elif scheme == "bearer" and params.get("realm"):
        try:
            token = _bearer_token(params, username, secret, deadline)
        except _Refused as refused:
            return refused.outcome
        status, _, _ = _request(base, deadline, {"Authorization": f"Bearer {token}"})
    else:
        return Outcome(f"unknown authentication scheme {scheme or 'none'}")
    return _answered(status)


def _bearer_token(params: dict[str, str], username: str, secret: str, deadline: float) -> str:
    """A registry token from the challenge's realm; _Refused says why there is none."""
    query = {"service": params.get("service", "")}
    if params.get("scope"):
        query["scope"] = params["scope"]
    if username == IDENTITY_TOKEN_USERNAME:
        form = {
            **query,
            "grant_type": "refresh_token",
            "refresh_token": secret,
            "client_id": PROGRAM,
        }
        status, _, body = _request(
            params["realm"],
            deadline,
            {"Content-Type": "application/x-www-form-urlencoded"},
            urllib.parse.urlencode(form).encode(),
        )
    else:
        query["account"] = username
        url = (
            params["realm"]
            + ("&" if "?" in params["realm"] else "?")
            + urllib.parse.urlencode(query)
        )
        status, _, body = _request(url, deadline, {"Authorization": _basic(username, secret)})
    if status in (401, 403):
        raise _Refused(_answered(status))
    if status != 200:
        raise _Refused(Outcome(f"token service answered HTTP {status}"))
    try:
        answer = json.loads(body)
        token = answer.get("token") or answer.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise _Refused(Outcome("token service answered without a token"))
    return token
