"""Loopback stand-ins for the AWS endpoints the ECR token exchange talks to.

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
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional
from urllib.parse import parse_qsl, quote, urlsplit

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

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def endpoint_env(url: str) -> dict[str, str]:
    """The boto3 endpoint overrides that send both ECR flavours to *url*.

    These are boto3's documented service-specific variables (``AWS_ENDPOINT_URL_<SERVICE_ID>``
    with the service id upper-cased and spaces turned into underscores), the same ones the
    helper relies on, so using them in tests exercises the real resolution path.
    """
    return {"AWS_ENDPOINT_URL_ECR": url, "AWS_ENDPOINT_URL_ECR_PUBLIC": url}


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

    @property
    def ok(self) -> bool:
        """Whether a token was handed out for this call."""
        return self.status == 200


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
        self._send(404, {"__type": "UnknownOperationException", "message": "POST only"})

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
    ) -> None:
        """*keys* maps access key id -> secret; *session_tokens* pins temporary keys' tokens."""
        self.keys: dict[str, str] = dict(keys or {})
        self.session_tokens: dict[str, str] = dict(session_tokens or {})
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
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = handler.rfile.read(length) if length > 0 else b""
        target = handler.headers.get("X-Amz-Target", "")
        prefix, _, operation = target.partition(".")
        service = SIGNING_NAME_BY_TARGET_PREFIX.get(prefix)
        scope = _parse_authorization(handler.headers.get("Authorization", ""))
        try:
            parsed_body: Any = json.loads(body or b"{}")
        except ValueError:
            parsed_body = None
        with self._lock:
            call = Call(
                seq=next(self._seq),
                target=target,
                service=service,
                key_id=scope.key_id if scope else None,
                region=scope.region if scope else None,
                signing_name=scope.service if scope else None,
                session_token=handler.headers.get("X-Amz-Security-Token"),
                user_agent=handler.headers.get("User-Agent", ""),
                body=parsed_body,
                received_at=time.time(),
            )
            self._calls.append(call)
            self._arrived.notify_all()

        if self.delay > 0 and self._stopping.wait(self.delay):
            return

        try:
            self._check_request(handler, call, scope, service, operation, body)
            mode = self._pick_failure()
            if mode == "hang":
                if not self._park():
                    return  # stopping: drop the connection without an answer
            elif mode is not None:
                raise self._failure(mode, service or "ecr")
            status, payload = 200, self._issue(call, service or "ecr")
        except _AwsError as exc:
            status, payload = exc.status, {"__type": exc.code, "message": exc.message}
            with self._lock:
                call.error = exc.code
        with self._lock:
            call.status = status
            call.answered_at = time.time()
        handler._send(status, payload)

    def _check_request(
        self,
        handler: _Handler,
        call: Call,
        scope: Optional[_Scope],
        service: Optional[str],
        operation: str,
        body: bytes,
    ) -> None:
        """Authenticate like AWS does, raising the error AWS would answer with."""
        if service is None or operation != "GetAuthorizationToken":
            raise _AwsError(400, "UnknownOperationException", "")
        if call.body is None or not isinstance(call.body, dict):
            raise _AwsError(400, "SerializationException", "Start of structure or map found")
        authorization = handler.headers.get("Authorization")
        if not authorization:
            raise _AwsError(
                400, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        if scope is None:
            raise _AwsError(
                400,
                "IncompleteSignatureException",
                f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'. "
                f"Authorization={authorization}",
            )
        secret = self.keys.get(scope.key_id)
        if secret is None:
            raise _AwsError(
                400,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        expected_token = self.session_tokens.get(scope.key_id)
        if expected_token is not None and call.session_token != expected_token:
            raise _AwsError(
                400,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if scope.service != service:
            raise _AwsError(
                400,
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{service}'. ",
            )
        if (
            service == "ecr-public"
            and self.public_regions is not None
            and scope.region not in self.public_regions
        ):
            raise _AwsError(
                400,
                "InvalidSignatureException",
                "Credential should be scoped to a valid region. ",
            )
        amz_date = handler.headers.get("X-Amz-Date", "")
        try:
            signed_at = datetime.strptime(amz_date, _AMZ_DATE_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            raise _AwsError(
                400, "IncompleteSignatureException", "Missing or malformed X-Amz-Date header"
            ) from None
        if scope.date != amz_date[:8]:
            raise _AwsError(
                400,
                "InvalidSignatureException",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{scope.date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )
        if self.max_skew is not None:
            now = datetime.now(timezone.utc)
            skew = timedelta(seconds=self.max_skew)
            minutes = f"{self.max_skew / 60:g} min."
            if signed_at < now - skew:
                raise _AwsError(
                    400,
                    "InvalidSignatureException",
                    f"Signature expired: {amz_date} is now earlier than "
                    f"{(now - skew).strftime(_AMZ_DATE_FORMAT)} "
                    f"({now.strftime(_AMZ_DATE_FORMAT)} - {minutes})",
                )
            if signed_at > now + skew:
                raise _AwsError(
                    400,
                    "InvalidSignatureException",
                    f"Signature not yet current: {amz_date} is still later than "
                    f"{(now + skew).strftime(_AMZ_DATE_FORMAT)} "
                    f"({now.strftime(_AMZ_DATE_FORMAT)} + {minutes})",
                )
        if "host" not in scope.signed_headers:
            raise _AwsError(
                400,
                "InvalidSignatureException",
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
            raise _AwsError(
                400,
                "InvalidSignatureException",
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

    def _failure(self, mode: str, service: str) -> _AwsError:
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

    def _issue(self, call: Call, service: str) -> dict[str, Any]:
        """Mint a token unique to this call, in the response shape of *service*."""
        password = f"fake-{service}-{call.seq:06d}-{call.key_id}"
        token = base64.b64encode(f"AWS:{password}".encode()).decode("ascii")
        expires_at = self.expires_at
        if expires_at is None:
            expires_at = time.time() + self.lifetime
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
