"""Loopback stand-ins for the AWS endpoints the ECR token exchange talks to.

One ``FakeECR`` server answers everything the helper may reach on the way to a registry token:
ECR and ECR Public ``GetAuthorizationToken`` (JSON 1.1), STS ``AssumeRole`` (query protocol,
XML answers) and the SSO portal's ``GetRoleCredentials`` (rest-json, bearer token).  Point
boto3 at it with ``AWS_ENDPOINT_URL`` or the per-service ``AWS_ENDPOINT_URL_<SERVICE>``
variables (:func:`endpoint_env`).  Temporary credentials it hands out (``ASIA...`` keys) are
registered with it, so later calls signed with them are verified, need their session token,
and fail with ``ExpiredToken(Exception)`` once they expire.

The helper turns an access key pair into a registry token through boto3.  Real AWS is off
limits in tests, and moto's ECR is not enough for them: it accepts any key, its tokens expired
in 2015 (so nothing can be cached) and it has no ECR Public at all.  ``FakeECR`` fills that gap:
it speaks the same AWS JSON 1.1 wire protocol boto3 uses, checks SigV4 signatures for real (so a
wrong secret fails the way it does against AWS), counts every call (so caching tests can assert
"exactly one exchange") and can be switched into the failure modes the helper must survive.
``moto_server`` runs moto out of process for the cases where moto is good enough.

Nothing here is a pytest fixture: the tests wrap these in fixtures, and the bench uses them as
they are. The environment that keeps the machine's AWS setup away is the one builder's
(``beds.environment``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import http.server
import itertools
import json
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape as xml_escape

from beds.servers import free_port, stop_process

#: ``X-Amz-Target`` prefix of private ECR (botocore ``ecr`` model, ``targetPrefix``).
ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921"
#: ``X-Amz-Target`` prefix of ECR Public (botocore ``ecr-public`` model, ``targetPrefix``).
ECR_PUBLIC_TARGET_PREFIX = "SpencerFrontendService"
#: Content type botocore sends and AWS answers with for ``jsonVersion`` 1.1 services.
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
#: Target prefix -> SigV4 signing name, which is also the service name used in ``Call``.
SIGNING_NAME_BY_TARGET_PREFIX: dict[str, str] = {
    ECR_TARGET_PREFIX: "ecr",
    ECR_PUBLIC_TARGET_PREFIX: "ecr-public",
}
#: The failure modes ``FakeECR.fail_next`` accepts; each is also a boolean attribute.
FAILURE_MODES = ("throttle", "denied", "error500", "hang")
#: moto's default account, which its ECR puts into tokens and proxy endpoints.
MOTO_ACCOUNT = "123456789012"
#: STS API version botocore sends (``Version=``) and XML namespace of its answers.
STS_VERSION = "2011-06-15"
STS_NAMESPACE = f"https://sts.amazonaws.com/doc/{STS_VERSION}/"
#: Content type of STS (query protocol) answers.
XML_CONTENT_TYPE = "text/xml"
#: The SSO portal's ``GetRoleCredentials`` route and bearer header (botocore ``sso`` model).
SSO_CREDENTIALS_PATH = "/federation/credentials"
SSO_BEARER_HEADER = "x-amz-sso_bearer_token"
SSO_UNAUTHORIZED_MESSAGE = "Session token not found or invalid"
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"

#: Authentication failure -> (HTTP status, error code), per protocol: ECR's JSON 1.1 codes or
#: STS's query-protocol codes.
_AUTH_ERRORS: dict[str, dict[str, tuple[int, str]]] = {
    "json": {
        "missing": (400, "MissingAuthenticationTokenException"),
        "incomplete": (400, "IncompleteSignatureException"),
        "unknown_key": (400, "UnrecognizedClientException"),
        "expired": (400, "ExpiredTokenException"),
        "signature": (400, "InvalidSignatureException"),
    },
    "query": {
        "missing": (403, "MissingAuthenticationToken"),
        "incomplete": (400, "IncompleteSignature"),
        "unknown_key": (403, "InvalidClientTokenId"),
        "expired": (400, "ExpiredToken"),
        "signature": (403, "SignatureDoesNotMatch"),
    },
}
_MISSING_AUTH_MESSAGE = {
    "json": "Missing Authentication Token",
    "query": "Request is missing Authentication Token",
}
_ID_ALPHABET = string.ascii_uppercase + string.digits

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def endpoint_env(url: str, *, sts: bool = False, sso: bool = False) -> dict[str, str]:
    """The boto3 endpoint overrides that send both ECR flavours (and optionally STS, SSO) to *url*.

    These are boto3's documented service-specific variables (``AWS_ENDPOINT_URL_<SERVICE_ID>``
    with the service id upper-cased and spaces turned into underscores), the same ones the
    helper relies on, so using them in tests exercises the real resolution path.
    """
    env = {"AWS_ENDPOINT_URL_ECR": url, "AWS_ENDPOINT_URL_ECR_PUBLIC": url}
    if sts:
        env["AWS_ENDPOINT_URL_STS"] = url
    if sso:
        env["AWS_ENDPOINT_URL_SSO"] = url
    return env


def sso_cache_dir(home: Path) -> Path:
    """Where botocore looks for SSO tokens under *home* (``~/.aws/sso/cache``)."""
    return home / ".aws" / "sso" / "cache"


def sso_cache_file(
    directory: Path,
    start_url: Optional[str],
    session_name: Optional[str],
    access_token: str,
    expires_at: datetime,
    region: str,
) -> Path:
    """Write the cached SSO token botocore's ``SSOTokenLoader`` reads; return its path.

    *directory* is the cache directory itself (see :func:`sso_cache_dir`).  The file name is
    the sha1 of *session_name* for profiles using ``sso_session`` and of *start_url* for legacy
    ``sso_start_url`` profiles, as in ``botocore.utils.SSOTokenLoader._generate_cache_key``.
    ``expiresAt`` is written the way botocore and the AWS CLI write it (UTC,
    ``%Y-%m-%dT%H:%M:%SZ``).  Without ``refreshToken``/``clientId`` botocore never tries to
    refresh the token through SSO OIDC, so a file that has expired stays expired.

    Mind that botocore fixes ``~`` of the cache directory when it is imported: a test that
    changes HOME in-process must let a fresh process (the helper, a child Python) read it.
    """
    name = session_name if session_name is not None else start_url
    if name is None:
        raise ValueError("need start_url (legacy profiles) or session_name (sso_session)")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    content: dict[str, Any] = {
        "accessToken": access_token,
        "expiresAt": expires_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
    }
    if start_url is not None:
        content["startUrl"] = start_url
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()
    path = directory / f"{digest}.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    path.chmod(0o600)
    return path


def decode_token(token: str) -> tuple[str, str]:
    """Split an ECR ``authorizationToken`` (base64 of ``user:password``) into its two parts."""
    user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
    return user, password


@dataclass
class Call:
    """One request that reached ``FakeECR``, filled in as it is answered.

    It is recorded on arrival, so a request that hangs is already visible (``status`` stays
    ``None`` until something is sent back).
    """

    seq: int
    target: str
    service: Optional[str]
    key_id: Optional[str]
    region: Optional[str]
    signing_name: Optional[str]
    session_token: Optional[str]
    user_agent: str
    body: Any
    received_at: float
    status: Optional[int] = None
    error: Optional[str] = None
    token: Optional[str] = None
    expires_at: Optional[float] = None
    answered_at: Optional[float] = None
    #: STS ``AssumeRole`` parameters.
    role_arn: Optional[str] = None
    session_name: Optional[str] = None
    external_id: Optional[str] = None
    duration_seconds: Optional[int] = None
    #: SSO ``GetRoleCredentials`` parameters.
    account_id: Optional[str] = None
    role_name: Optional[str] = None
    bearer_token: Optional[str] = None
    #: The temporary access key id an STS or SSO call handed out (``expires_at`` is its expiry).
    issued_key_id: Optional[str] = None

    @property
    def ok(self) -> bool:
        """Whether a token (or, for STS and SSO, credentials) was handed out for this call."""
        return self.status == 200


@dataclass
class Role:
    """An IAM role ``FakeECR`` lets callers assume through STS ``AssumeRole``.

    *trusted* holds the access key ids the trust policy admits (temporary ones included, for
    role chaining); *external_id*, if set, must be passed as ``ExternalId``; issued
    credentials live *lifetime* seconds (``DurationSeconds`` is recorded but not honoured, so
    a test can hand out already-expired credentials with a negative lifetime).
    """

    trusted: set[str] = field(default_factory=set)
    external_id: Optional[str] = None
    lifetime: float = 3600


@dataclass
class _SsoGrant:
    """What one SSO bearer token may fetch: (account, role) -> credentials lifetime."""

    roles: dict[tuple[str, str], float] = field(default_factory=dict)
    expires_at: Optional[float] = None


class _AwsError(Exception):
    """An AWS-style error answer: HTTP status, ``__type`` code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Scope:
    """The parts of a SigV4 ``Authorization`` header the checks need."""

    key_id: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str = field(repr=False)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def sigv4_signature(
    secret_key: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
    amz_date: str,
    region: str,
    service: str,
) -> str:
    """Compute an AWS Signature Version 4 signature from first principles.

    Written independently of botocore on purpose: the fake checks what the client signed
    rather than re-running the client's own code, so a request botocore signs with the wrong
    secret, region or service is rejected exactly as AWS would reject it.  *headers* must be
    keyed by lower-case names.
    """
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(parse_qsl(query, keep_blank_values=True))
    )
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_headers
    )
    canonical_request = "\n".join(
        [
            method,
            quote(path or "/", safe="/~"),
            canonical_query,
            canonical_headers,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = _hmac(f"AWS4{secret_key}".encode(), amz_date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers one request per connection; all decisions are delegated to ``FakeECR``."""

    server: _Server
    # HTTP/1.0 closes the connection after each answer, so no idle keep-alive thread outlives
    # the fake; botocore copes with that exactly as it does with a server-side close.
    protocol_version = "HTTP/1.0"
    # A client that connects and sends nothing must not pin a thread forever.
    timeout = 10

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def do_GET(self) -> None:
        self.server.fake._handle_get(self)

    def _send(self, status: int, payload: Mapping[str, Any]) -> bool:
        """Write a JSON 1.1 answer; ``False`` if the client has already gone away."""
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", JSON_CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if status != 200 and "__type" in payload:
                self.send_header("x-amzn-ErrorType", f"{payload['__type']}:")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            # A client that timed out (the hang mode) closes its end; that is expected.
            return False
        return True

    def _send_raw(
        self,
        status: int,
        content_type: str,
        data: bytes,
        extra_headers: Optional[Mapping[str, str]] = None,
    ) -> bool:
        """Write an answer of any protocol; ``False`` if the client has already gone away."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for name, value in (extra_headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: pytest output should show test failures, not access logs."""


class _Server(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its ``FakeECR`` and swallows client disconnects."""

    daemon_threads = True

    def __init__(self, fake: FakeECR) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep resets from clients that gave up out of stderr; record anything else."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            self.fake.errors.append(exc)


class FakeECR:
    """A loopback ECR + ECR Public ``GetAuthorizationToken`` endpoint with real SigV4 checks.

    Use as a context manager (or ``start()``/``stop()``); point boto3 at ``endpoint_url``,
    e.g. via :func:`endpoint_env`.  Every knob below is a plain attribute that can be flipped
    while the server runs:

    ``lifetime``
        seconds from now that issued tokens expire (``expires_at`` overrides with an absolute
        epoch time, e.g. one in the past).
    ``throttle`` / ``denied`` / ``error500`` / ``hang``
        answer every call with ``ThrottlingException`` (400), ``AccessDeniedException`` (400),
        ``ServerException`` (500), or never answer (until ``release_hung()`` or ``stop()``).
        STS answers in its own shape (``Throttling`` 400, ``AccessDenied`` 403,
        ``InternalFailure`` 500), the SSO portal in its (``TooManyRequestsException`` 429,
        ``ForbiddenException`` 403, ``InternalServerException`` 500).
    ``roles``
        role ARN -> :class:`Role` that STS ``AssumeRole`` hands credentials out for.
    ``key_expires_at``
        temporary key id -> epoch expiry (filled by STS, SSO and ``add_temporary_key``).
    ``delay``
        seconds to sit on each request before answering, to widen race windows.
    ``max_skew``
        allowed clock difference for ``X-Amz-Date`` (ECR uses 15 minutes), ``None`` to skip.
    ``public_regions``
        regions ECR Public accepts in the credential scope (AWS serves it only from
        us-east-1), ``None`` to accept any.
    """

    def __init__(
        self,
        keys: Optional[Mapping[str, str]] = None,
        *,
        session_tokens: Optional[Mapping[str, str]] = None,
        lifetime: float = 12 * 3600,
        account: str = "123456789012",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """*keys* maps access key id -> secret; *session_tokens* pins temporary keys' tokens;
        *clock* is the server's time (a :class:`beds.clock.FakeClock`'s ``now`` to share the
        helper's fake clock)."""
        self.clock = clock
        self.keys: dict[str, str] = dict(keys or {})
        self.session_tokens: dict[str, str] = dict(session_tokens or {})
        #: Temporary key id -> epoch time it stops working (``ExpiredToken(Exception)``).
        self.key_expires_at: dict[str, float] = {}
        #: Role ARN -> role that STS ``AssumeRole`` may hand out credentials for.
        self.roles: dict[str, Role] = {}
        self._sso_tokens: dict[str, _SsoGrant] = {}
        self._principals: dict[str, str] = {}
        self.lifetime = lifetime
        self.expires_at: Optional[float] = None
        self.account = account
        self.throttle = False
        self.denied = False
        self.error500 = False
        self.hang = False
        self.delay = 0.0
        self.max_skew: Optional[float] = 15 * 60
        self.public_regions: Optional[set[str]] = {"us-east-1"}
        #: Unexpected exceptions raised inside handlers; a healthy run leaves this empty.
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._seq = itertools.count(1)
        self._one_shot: list[str] = []
        self._stopping = threading.Event()
        self._release = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeECR:
        """Bind a free loopback port and serve from a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeECR already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeECR:{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving promptly, even with requests hanging or delayed; safe to call twice.

        Hanging and delayed handlers wait on an event that is set first, so they drop their
        connection (the client sees a disconnect) instead of holding the shutdown up.
        """
        self._stopping.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeECR:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("FakeECR is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what happened -----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._calls)

    def count(
        self,
        service: Optional[str] = None,
        key_id: Optional[str] = None,
        *,
        ok: Optional[bool] = None,
    ) -> int:
        """How many requests arrived, optionally only for a service, key id, or outcome.

        Failed and still-hanging calls count too: what caching tests care about is how often
        the helper went to AWS, not how often AWS said yes.
        """
        with self._lock:
            return sum(
                1
                for call in self._calls
                if (service is None or call.service == service)
                and (key_id is None or call.key_id == key_id)
                and (ok is None or call.ok == ok)
            )

    def counts(self) -> dict[tuple[Optional[str], Optional[str]], int]:
        """Number of requests per ``(service, key_id)`` pair."""
        result: dict[tuple[Optional[str], Optional[str]], int] = {}
        with self._lock:
            for call in self._calls:
                pair = (call.service, call.key_id)
                result[pair] = result.get(pair, 0) + 1
        return result

    def wait_for_calls(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least *n* requests have arrived; ``False`` on timeout.

        Lets a concurrency test know the first exchange is in flight (e.g. parked by
        ``hang``) before it starts the competing one.
        """
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._calls) >= n, timeout=timeout)

    def reset(self) -> None:
        """Forget recorded calls and clear every failure mode, one-shot ones included."""
        with self._lock:
            self._calls.clear()
            self._one_shot.clear()
        self.throttle = self.denied = self.error500 = self.hang = False
        self.delay = 0.0

    # -- steering ------------------------------------------------------------------------------

    def add_temporary_key(
        self,
        key_id: str,
        secret: str,
        session_token: str,
        expires_at: Union[float, datetime],
    ) -> None:
        """Accept *key_id* only with *session_token*, and only until *expires_at*.

        *expires_at* is an epoch time or an aware datetime.  This is how STS and SSO register
        the credentials they mint; tests use it for keys that arrive pre-made (env, profile).
        """
        if isinstance(expires_at, datetime):
            expires_at = expires_at.timestamp()
        with self._lock:
            self.keys[key_id] = secret
            self.session_tokens[key_id] = session_token
            self.key_expires_at[key_id] = float(expires_at)

    def add_sso_token(
        self,
        access_token: str,
        account_id: str,
        role_name: str,
        lifetime: float = 3600,
        *,
        token_expires_at: Optional[Union[float, datetime]] = None,
    ) -> None:
        """Let the SSO portal hand out *role_name* in *account_id* for bearer *access_token*.

        *lifetime* is how long the minted role credentials live; *token_expires_at* is when
        the portal stops accepting the bearer token itself (``None``: never).  Calling again
        with the same token adds another role; passing *token_expires_at* updates its expiry.
        """
        if isinstance(token_expires_at, datetime):
            token_expires_at = token_expires_at.timestamp()
        with self._lock:
            grant = self._sso_tokens.setdefault(access_token, _SsoGrant())
            grant.roles[(account_id, role_name)] = lifetime
            if token_expires_at is not None:
                grant.expires_at = float(token_expires_at)

    def fail_next(self, mode: str, times: int = 1) -> None:
        """Answer the next *times* authenticated calls with *mode*, then behave normally again.

        For "fails once, then works" scenarios such as a retry after throttling.
        """
        if mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {mode!r}; expected one of {FAILURE_MODES}")
        with self._lock:
            self._one_shot.extend([mode] * times)

    def release_hung(self) -> None:
        """Let every request currently parked by ``hang`` go on and get a normal answer.

        Requests arriving later hang again while ``hang`` stays true; clear it first if the
        point is to let traffic flow.
        """
        with self._lock:
            released, self._release = self._release, threading.Event()
        released.set()

    # -- request handling -----------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        """Answer one POST: ECR / ECR Public (JSON 1.1, ``X-Amz-Target``) or STS (query)."""
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = handler.rfile.read(length) if length > 0 else b""
        target = handler.headers.get("X-Amz-Target", "")
        scope = _parse_authorization(handler.headers.get("Authorization", ""))
        if not target and _is_query_request(handler, scope):
            self._handle_sts(handler, scope, body)
            return
        prefix, _, operation = target.partition(".")
        service = SIGNING_NAME_BY_TARGET_PREFIX.get(prefix)
        try:
            parsed_body: Any = json.loads(body or b"{}")
        except ValueError:
            parsed_body = None
        call = self._record(
            handler,
            target=target,
            service=service,
            scope=scope,
            session_token=handler.headers.get("X-Amz-Security-Token"),
            body=parsed_body,
        )

        def authenticate() -> None:
            self._check_request(handler, call, scope, service, operation, body)

        self._process(
            handler,
            call,
            "json",
            authenticate,
            lambda: self._issue(call, service or "ecr"),
        )

    def _handle_get(self, handler: _Handler) -> None:
        """Answer one GET: the SSO portal's ``GetRoleCredentials`` (rest-json, unsigned)."""
        url = urlsplit(handler.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        bearer = handler.headers.get(SSO_BEARER_HEADER)
        call = self._record(
            handler,
            target="GetRoleCredentials" if url.path == SSO_CREDENTIALS_PATH else url.path,
            service="sso",
            scope=None,
            session_token=None,
            body=query,
        )
        call.account_id = query.get("account_id")
        call.role_name = query.get("role_name")
        call.bearer_token = bearer

        def authenticate() -> None:
            if url.path != SSO_CREDENTIALS_PATH:
                raise _AwsError(404, "UnknownOperationException", f"No route for {url.path}")
            if not call.account_id or not call.role_name:
                raise _AwsError(
                    400, "InvalidRequestException", "role_name and account_id are required"
                )
            with self._lock:
                grant = self._sso_tokens.get(bearer or "")
            if grant is None or (grant.expires_at is not None and self.clock() >= grant.expires_at):
                raise _AwsError(401, "UnauthorizedException", SSO_UNAUTHORIZED_MESSAGE)
            if (call.account_id, call.role_name) not in grant.roles:
                raise _AwsError(403, "ForbiddenException", "No access")

        def issue() -> dict[str, Any]:
            grant = self._sso_tokens[bearer or ""]
            lifetime = grant.roles[(call.account_id or "", call.role_name or "")]
            principal = (
                f"arn:aws:sts::{call.account_id}:assumed-role/"
                f"AWSReservedSSO_{call.role_name}/sso-user"
            )
            key_id, secret, token, expires_at = self._mint(lifetime, principal)
            with self._lock:
                call.issued_key_id, call.expires_at = key_id, expires_at
            return {
                "roleCredentials": {
                    "accessKeyId": key_id,
                    "secretAccessKey": secret,
                    "sessionToken": token,
                    "expiration": int(expires_at * 1000),
                }
            }

        self._process(handler, call, "rest-json", authenticate, issue)

    def _handle_sts(self, handler: _Handler, scope: Optional[_Scope], body: bytes) -> None:
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = params.get("Action", "")
        call = self._record(
            handler,
            target=action,
            service="sts",
            scope=scope,
            session_token=handler.headers.get("X-Amz-Security-Token"),
            body=params,
        )
        call.role_arn = params.get("RoleArn")
        call.session_name = params.get("RoleSessionName")
        call.external_id = params.get("ExternalId")
        duration = params.get("DurationSeconds")
        call.duration_seconds = int(duration) if duration and duration.isdigit() else None

        def authenticate() -> None:
            if action != "AssumeRole" or params.get("Version") != STS_VERSION:
                raise _AwsError(
                    400,
                    "InvalidAction",
                    f"Could not find operation {action} for version {params.get('Version')}",
                )
            self._authenticate(handler, call, scope, "sts", body, "query")
            for name in ("RoleArn", "RoleSessionName"):
                if not params.get(name):
                    raise _AwsError(
                        400,
                        "ValidationError",
                        f"1 validation error detected: Value null at '{name[0].lower()}"
                        f"{name[1:]}' failed to satisfy constraint: Member must not be null",
                    )
            role_arn = params["RoleArn"]
            role = self.roles.get(role_arn)
            if (
                role is None
                or (scope is not None and scope.key_id not in role.trusted)
                or (role.external_id is not None and call.external_id != role.external_id)
            ):
                raise _AwsError(403, "AccessDenied", self._not_authorized(call, role_arn))

        def issue() -> str:
            role_arn = params["RoleArn"]
            role = self.roles[role_arn]
            account = _arn_account(role_arn) or self.account
            role_name = role_arn.rsplit("/", 1)[-1]
            session_name = params["RoleSessionName"]
            assumed_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
            key_id, secret, token, expires_at = self._mint(role.lifetime, assumed_arn)
            with self._lock:
                call.issued_key_id, call.expires_at = key_id, expires_at
            role_id = "AROA" + _random_id(17)
            return (
                f'<AssumeRoleResponse xmlns="{STS_NAMESPACE}">'
                "<AssumeRoleResult>"
                "<Credentials>"
                f"<AccessKeyId>{key_id}</AccessKeyId>"
                f"<SecretAccessKey>{xml_escape(secret)}</SecretAccessKey>"
                f"<SessionToken>{xml_escape(token)}</SessionToken>"
                f"<Expiration>{_iso8601(expires_at)}</Expiration>"
                "</Credentials>"
                "<AssumedRoleUser>"
                f"<AssumedRoleId>{role_id}:{xml_escape(session_name)}</AssumedRoleId>"
                f"<Arn>{xml_escape(assumed_arn)}</Arn>"
                "</AssumedRoleUser>"
                "</AssumeRoleResult>"
                f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
                "</AssumeRoleResponse>"
            )

        self._process(handler, call, "query", authenticate, issue)

    def _record(
        self,
        handler: _Handler,
        *,
        target: str,
        service: Optional[str],
        scope: Optional[_Scope],
        session_token: Optional[str],
        body: Any,
    ) -> Call:
        """Log a request on arrival (before any delay or hang), so waiting tests can see it."""
        with self._lock:
            call = Call(
                seq=next(self._seq),
                target=target,
                service=service,
                key_id=scope.key_id if scope else None,
                region=scope.region if scope else None,
                signing_name=scope.service if scope else None,
                session_token=session_token,
                user_agent=handler.headers.get("User-Agent", ""),
                body=body,
                received_at=self.clock(),
            )
            self._calls.append(call)
            self._arrived.notify_all()
        return call

    def _process(
        self,
        handler: _Handler,
        call: Call,
        protocol: str,
        authenticate: Callable[[], None],
        issue: Callable[[], Any],
    ) -> None:
        """Delay, authenticate, apply the failure modes, answer: the same for every protocol.

        Authentication comes before the failure modes, as at AWS: a bad key is reported as a
        bad key even while the service is throttling.
        """
        if self.delay > 0 and self._stopping.wait(self.delay):
            return
        try:
            authenticate()
            mode = self._pick_failure()
            if mode == "hang":
                if not self._park():
                    return  # stopping: drop the connection without an answer
            elif mode is not None:
                raise self._failure(mode, protocol, call)
            status, payload, error = 200, issue(), None
        except _AwsError as exc:
            status, payload, error = exc.status, None, exc
            with self._lock:
                call.error = exc.code
        with self._lock:
            call.status = status
            call.answered_at = self.clock()
        if protocol == "query":
            handler._send_raw(
                status,
                XML_CONTENT_TYPE,
                (payload if error is None else _sts_error_xml(error)).encode("utf-8"),
            )
        elif protocol == "rest-json":
            data = json.dumps(payload if error is None else {"message": error.message})
            extra = {} if error is None else {"x-amzn-ErrorType": error.code}
            handler._send_raw(status, "application/json", data.encode("utf-8"), extra)
        elif error is None:
            handler._send(status, payload)
        else:
            handler._send(status, {"__type": error.code, "message": error.message})

    def _check_request(
        self,
        handler: _Handler,
        call: Call,
        scope: Optional[_Scope],
        service: Optional[str],
        operation: str,
        body: bytes,
    ) -> None:
        """Check an ECR request like AWS does, raising the error AWS would answer with."""
        if service is None or operation != "GetAuthorizationToken":
            raise _AwsError(400, "UnknownOperationException", "")
        if call.body is None or not isinstance(call.body, dict):
            raise _AwsError(400, "SerializationException", "Start of structure or map found")
        self._authenticate(handler, call, scope, service, body, "json")
        if (
            service == "ecr-public"
            and self.public_regions is not None
            and scope is not None
            and scope.region not in self.public_regions
        ):
            raise _AwsError(
                400,
                "InvalidSignatureException",
                "Credential should be scoped to a valid region. ",
            )

    def _authenticate(
        self,
        handler: _Handler,
        call: Call,
        scope: Optional[_Scope],
        service: str,
        body: bytes,
        protocol: str,
    ) -> None:
        """Verify key, session token, expiry, scope, date and SigV4 signature.

        *protocol* picks the error vocabulary: ``json`` (ECR's ``...Exception`` codes, all
        400) or ``query`` (STS's codes, 403 for authentication failures).
        """
        errors = _AUTH_ERRORS[protocol]

        def fail(kind: str, message: str) -> _AwsError:
            status, code = errors[kind]
            return _AwsError(status, code, message)

        authorization = handler.headers.get("Authorization")
        if not authorization:
            raise fail("missing", _MISSING_AUTH_MESSAGE[protocol])
        if scope is None:
            raise fail(
                "incomplete",
                f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'. "
                f"Authorization={authorization}",
            )
        secret = self.keys.get(scope.key_id)
        if secret is None:
            raise fail("unknown_key", INVALID_TOKEN_MESSAGE)
        expected_token = self.session_tokens.get(scope.key_id)
        if expected_token is not None and call.session_token != expected_token:
            raise fail("unknown_key", INVALID_TOKEN_MESSAGE)
        expires_at = self.key_expires_at.get(scope.key_id)
        if expires_at is not None and self.clock() >= expires_at:
            raise fail("expired", EXPIRED_TOKEN_MESSAGE)
        if scope.service != service:
            raise fail(
                "signature", f"Credential should be scoped to correct service: '{service}'. "
            )
        amz_date = handler.headers.get("X-Amz-Date", "")
        try:
            signed_at = datetime.strptime(amz_date, _AMZ_DATE_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            raise fail("incomplete", "Missing or malformed X-Amz-Date header") from None
        if scope.date != amz_date[:8]:
            raise fail(
                "signature",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{scope.date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )
        if self.max_skew is not None:
            now = datetime.fromtimestamp(self.clock(), timezone.utc)
            skew = timedelta(seconds=self.max_skew)
            minutes = f"{self.max_skew / 60:g} min."
            if signed_at < now - skew:
                raise fail(
                    "signature",
                    f"Signature expired: {amz_date} is now earlier than "
                    f"{(now - skew).strftime(_AMZ_DATE_FORMAT)} "
                    f"({now.strftime(_AMZ_DATE_FORMAT)} - {minutes})",
                )
            if signed_at > now + skew:
                raise fail(
                    "signature",
                    f"Signature not yet current: {amz_date} is still later than "
                    f"{(now + skew).strftime(_AMZ_DATE_FORMAT)} "
                    f"({now.strftime(_AMZ_DATE_FORMAT)} + {minutes})",
                )
        if "host" not in scope.signed_headers:
            raise fail(
                "signature",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            )
        headers = {
            name: ",".join(v.strip() for v in handler.headers.get_all(name, []))
            for name in scope.signed_headers
        }
        url = urlsplit(handler.path)
        expected = sigv4_signature(
            secret,
            method=handler.command,
            path=url.path,
            query=url.query,
            headers=headers,
            signed_headers=scope.signed_headers,
            body=body,
            amz_date=amz_date,
            region=scope.region,
            service=scope.service,
        )
        if not hmac.compare_digest(expected, scope.signature):
            raise fail(
                "signature",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method. Consult the "
                "service documentation for details.",
            )

    def _pick_failure(self) -> Optional[str]:
        with self._lock:
            if self._one_shot:
                return self._one_shot.pop(0)
        for mode in ("hang", "error500", "throttle", "denied"):
            if getattr(self, mode):
                return mode
        return None

    def _park(self) -> bool:
        """Wait until released (``True``) or the server stops (``False``)."""
        with self._lock:
            release = self._release
        while not release.is_set():
            if self._stopping.wait(0.02):
                return False
        return True

    def _not_authorized(self, call: Call, resource: str) -> str:
        caller = self._principals.get(call.key_id or "", f"arn:aws:iam::{self.account}:user/ci")
        return (
            f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {resource}"
        )

    def _failure(self, mode: str, protocol: str, call: Call) -> _AwsError:
        """The error *mode* answers with, in the shape of the call's protocol."""
        if protocol == "query":
            if mode == "throttle":
                return _AwsError(400, "Throttling", "Rate exceeded")
            if mode == "denied":
                return _AwsError(
                    403, "AccessDenied", self._not_authorized(call, call.role_arn or "*")
                )
            return _AwsError(500, "InternalFailure", "An internal error occurred. Try again.")
        if protocol == "rest-json":
            if mode == "throttle":
                return _AwsError(429, "TooManyRequestsException", "Rate exceeded")
            if mode == "denied":
                return _AwsError(403, "ForbiddenException", "No access")
            return _AwsError(500, "InternalServerException", "Internal server error")
        service = call.service or "ecr"
        if mode == "throttle":
            return _AwsError(400, "ThrottlingException", "Rate exceeded")
        if mode == "denied":
            action = f"{service}:GetAuthorizationToken"
            return _AwsError(
                400,
                "AccessDeniedException",
                f"User: arn:aws:iam::{self.account}:user/ci is not authorized to perform: "
                f"{action} on resource: * because no identity-based policy allows the "
                f"{action} action",
            )
        return _AwsError(500, "ServerException", "We encountered an internal error. Try again.")

    def _mint(self, lifetime: float, principal: str) -> tuple[str, str, str, float]:
        """New temporary credentials valid for *lifetime* seconds, registered with the fake."""
        key_id = "ASIA" + _random_id(16)
        secret = secrets.token_urlsafe(30)[:40]
        token = "FwoGZXIvYXdzE" + secrets.token_urlsafe(96)
        expires_at = round(self.clock() + lifetime, 3)
        self.add_temporary_key(key_id, secret, token, expires_at)
        with self._lock:
            self._principals[key_id] = principal
        return key_id, secret, token, expires_at

    def _issue(self, call: Call, service: str) -> dict[str, Any]:
        """Mint a token unique to this call, in the response shape of *service*."""
        password = f"fake-{service}-{call.seq:06d}-{call.key_id}"
        token = base64.b64encode(f"AWS:{password}".encode()).decode("ascii")
        expires_at = self.expires_at
        if expires_at is None:
            expires_at = self.clock() + self.lifetime
            # As AWS does, a token bought with temporary keys ends when they do.
            key_expires_at = self.key_expires_at.get(call.key_id or "")
            if key_expires_at is not None:
                expires_at = min(expires_at, key_expires_at)
        expires_at = round(expires_at, 3)
        with self._lock:
            call.token, call.expires_at = token, expires_at
        if service == "ecr-public":
            return {"authorizationData": {"authorizationToken": token, "expiresAt": expires_at}}
        registry_ids = call.body.get("registryIds") or [self.account]
        return {
            "authorizationData": [
                {
                    "authorizationToken": token,
                    "expiresAt": expires_at,
                    "proxyEndpoint": f"https://{registry}.dkr.ecr.{call.region}.amazonaws.com",
                }
                for registry in registry_ids
            ]
        }


def _is_query_request(handler: _Handler, scope: Optional[_Scope]) -> bool:
    """Whether a POST without ``X-Amz-Target`` is a query-protocol (STS) call."""
    content_type = handler.headers.get("Content-Type", "")
    return content_type.startswith("application/x-www-form-urlencoded") or (
        scope is not None and scope.service == "sts"
    )


def _random_id(length: int) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _iso8601(epoch: float) -> str:
    """``2024-01-02T03:04:05.678Z``, the way STS writes ``Expiration``."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _arn_account(arn: str) -> Optional[str]:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _sts_error_xml(error: _AwsError) -> str:
    kind = "Receiver" if error.status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{STS_NAMESPACE}">'
        f"<Error><Type>{kind}</Type><Code>{xml_escape(error.code)}</Code>"
        f"<Message>{xml_escape(error.message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId>"
        "</ErrorResponse>"
    )


def _parse_authorization(value: str) -> Optional[_Scope]:
    """Pull key id, credential scope and signature out of a SigV4 header (``None`` if bad)."""
    match = _AUTH_RE.match(value.strip())
    if match is None:
        return None
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    key_id, date, region, service, _ = parts
    return _Scope(
        key_id=key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=match["signed_headers"].split(";"),
        signature=match["signature"],
    )


# -- moto ------------------------------------------------------------------------------------


def _answers(port: int) -> bool:
    """Whether moto's HTTP layer is up (its own dashboard API, no AWS service involved)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/moto-api/data.json")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


#: moto's ECR answers every GetAuthorizationToken with a token that expired then
#: (2015-01-01T00:00Z); a helper that talks to it runs on a FakeClock set before it.
MOTO_TOKEN_EXPIRY = 1420070400.0


@contextlib.contextmanager
def moto_server(
    env: Optional[Mapping[str, str]] = None,
    *,
    startup_timeout: float = 20.0,
    attempts: int = 3,
) -> Iterator[str]:
    """Run ``python -m moto.server`` on a free loopback port and yield its URL.

    moto runs out of process so the helper's own boto3 calls go over real HTTP, as they would
    against AWS.  Its ECR does not check keys unless *env* sets
    ``INITIAL_NO_AUTH_ACTION_COUNT`` (and then only keys created through its IAM API), always
    reports the account's token as expired in 2015, and has no ECR Public.  The free-port
    probe can race with another process, so a start that dies early is retried on a new port.
    The process is always stopped: terminate, bounded wait, then kill.
    """
    child_env = dict(os.environ)
    child_env.update(env or {})
    last_error = "moto did not start"
    for _ in range(attempts):
        port = free_port()
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env,
            )
            try:
                deadline = time.monotonic() + startup_timeout
                while process.poll() is None and time.monotonic() < deadline:
                    if _answers(port):
                        break
                    time.sleep(0.05)
                else:
                    log.seek(0)
                    tail = log.read()[-2000:].decode("utf-8", "replace")
                    state = "exited" if process.poll() is not None else "timed out"
                    last_error = f"moto server {state} on port {port}:\n{tail}"
                    continue
                yield f"http://127.0.0.1:{port}"
                return
            finally:
                stop_process(process)
    raise RuntimeError(last_error)
