"""The ECR exchange: an AWS access key in a secret becomes a registry token, cached and fresh.

The call goes through botocore, boto3's engine, imported only when the cache cannot answer:
importing it costs more than everything else the helper does, and boto3's own layer on top
would add another ~60 ms for nothing this call needs. The client gets exactly the secret's
keys (never the default credential chain, so no instance-metadata probing and no surprise
profile) and bounded timeouts, so a dead endpoint is a clear error instead of a hung pull.
"""

from __future__ import annotations

import os
import time

from .constants import SECRET_PASSWORD, SECRET_SERVER, SECRET_USER
from .env_secrets import Secret
from .errors import HelperError
from .log import debug
from .servers import EcrRegistry, shown
from .token_cache import Token, cache_key, open_cache

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only type checkers need it
if TYPE_CHECKING:
    from typing import Any

    from botocore.config import Config
    from botocore.session import Session

# Never hand out a token that expires sooner than this: a pull can take minutes.
MIN_VALIDITY = 300.0
# Refresh once this share of a token's lifetime has passed (AWS issues 12-hour tokens).
REFRESH_AT = 0.5
# An expiration past 9999-12-31 is no date at all (and time.gmtime cannot show it).
LATEST_EXPIRATION = 253402300800
# Bounds on one exchange: at most 2 attempts of 3 s to connect and 5 s to read, so an
# unreachable or hanging endpoint fails in well under 20 s.
CONNECT_TIMEOUT = 3
READ_TIMEOUT = 5
MAX_ATTEMPTS = 2

_ENDPOINT_VARIABLES = {
    False: ("AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL"),
    True: ("AWS_ENDPOINT_URL_ECR_PUBLIC", "AWS_ENDPOINT_URL"),
}


def endpoint(registry: EcrRegistry) -> str:
    """The endpoint override boto3 will use for this registry's API, or "" for AWS itself."""
    variable = _endpoint_variable(registry)
    return os.environ[variable] if variable else ""


def _endpoint_variable(registry: EcrRegistry) -> str:
    """The variable that sets the endpoint for this registry's API (the first one set), or ""."""
    names = _ENDPOINT_VARIABLES[registry.public]
    return next((name for name in names if os.environ.get(name)), "")


def cache_key_for(secret: Secret, registry: EcrRegistry) -> str:
    """The token cache's key for a secret's registry, as `doctor` also looks it up."""
    return cache_key(
        secret.user,
        secret.password,
        registry.partition,
        registry.region,
        registry.host,
        endpoint(registry),
    )


def _usable_until(token: Token) -> float:
    """The moment after which a cached token is refreshed rather than served."""
    lifetime = token.expires_at - token.fetched_at
    return min(token.fetched_at + lifetime * REFRESH_AT, token.expires_at - MIN_VALIDITY)


def registry_password(secret: Secret, registry: EcrRegistry) -> str:
    """A registry password for the secret's access key, from the cache or from AWS.

    Concurrent callers for one key queue on its lock, and those that waited re-read the cache
    instead of calling AWS again, so thirty parallel pulls cost one call. A failed refresh
    still serves a cached token that stays valid for longer than MIN_VALIDITY.
    """
    cache = open_cache()
    key = cache_key_for(secret, registry)
    cached = cache.read(key)
    if cached is not None and time.time() < _usable_until(cached):
        return cached.password
    with cache.lock(key):
        cached = cache.read(key)
        if cached is not None and time.time() < _usable_until(cached):
            return cached.password
        try:
            token = exchange(secret, registry)
        except HelperError as error:
            if cached is not None and cached.expires_at - time.time() > MIN_VALIDITY:
                debug(f"refresh failed, serving the cached token: {error}")
                return cached.password
            raise
        cache.write(key, token)
    return token.password


def forget(secret: Secret, registry: EcrRegistry) -> None:
    """Drop the cached token of a secret's registry (`erase`)."""
    open_cache().forget(cache_key_for(secret, registry))


def check_token(secret: Secret) -> None:
    """Refuse a USER=AWS secret whose token has expired, and say how to stop that for good.

    ECR passwords decode, best effort, to JSON with an `expiration`; one that does not decode
    is passed through unchecked.
    """
    expiration = token_expiration(secret.password)
    if expiration is None or expiration > time.time():
        return
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expiration))
    raise HelperError(
        f"{secret.variable(SECRET_PASSWORD)} holds an ECR token that expired at {when}; "
        f"put the AWS access key id in {secret.variable(SECRET_USER)} and the secret key in "
        f"{secret.variable(SECRET_PASSWORD)} instead, and the helper refreshes tokens itself"
    )


def token_expiration(password: str) -> float | None:
    """When an ECR registry password expires, from the JSON inside it; None if it has none."""
    import json
    from binascii import Error, a2b_base64

    try:
        document = json.loads(a2b_base64(password.encode("ascii") + b"=="))
        expiration = document["expiration"]
    except (Error, ValueError, TypeError, KeyError, RecursionError):
        return None
    if isinstance(expiration, bool) or not isinstance(expiration, (int, float)):
        return None
    if not 0 < expiration < LATEST_EXPIRATION:  # nan, inf, or no date a clock can show
        return None
    return float(expiration)


def _session(service: str) -> Session:
    """A botocore session whose data loader is told that `service` exists, not left to look.

    Before it loads a model, botocore's loader checks the service name against a listing of
    every service directory it ships (about 450, each listed again for its versions), once for
    the model and once for the endpoint rules: about 35 ms of a cold `get`. The one service
    this client calls is known. AWS_DATA_PATH applies as in botocore's own `create_loader`.
    """
    import botocore.session
    from botocore.loaders import Loader

    class OneServiceLoader(Loader):
        """botocore's loader, but the one service this client calls is known to exist."""

        def list_available_services(self, type_name: str) -> list[str]:
            return [service]

    session = botocore.session.Session()
    data_path = session.get_config_variable("data_path") or ""
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep) if p]
    session.register_component("data_loader", OneServiceLoader(extra_search_paths=extra))
    return session


def exchange(secret: Secret, registry: EcrRegistry) -> Token:
    """Call GetAuthorizationToken with the secret's keys; errors name the secret, never it."""
    service = "ecr-public" if registry.public else "ecr"
    try:
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise HelperError("boto3 is missing; reinstall docker-credential-codespaces") from None
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    )
    fetched_at = time.time()
    try:
        client = _client(service, secret, registry, config)
        data = client.get_authorization_token()["authorizationData"]
        if not registry.public:
            data = data[0]
        token, expires_at = data["authorizationToken"], data["expiresAt"].timestamp()
    except ClientError as error:
        raise HelperError(_client_error(secret, registry, error)) from None
    except BotoCoreError as error:
        raise HelperError(_network_error(secret, registry, error)) from None
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, RuntimeError):
        # An answer of the wrong shape; botocore raises ValueError or RuntimeError for an
        # expiresAt that is no date.
        raise HelperError(
            f"{_who(secret, registry)}: AWS answered without a usable token"
        ) from None
    return Token(_decode(secret, registry, token), expires_at, fetched_at)


def _client(service: str, secret: Secret, registry: EcrRegistry, config: Config) -> Any:
    """A botocore client with exactly the secret's keys; an endpoint it cannot use is named."""
    from urllib.parse import urlsplit  # botocore has loaded it already

    from botocore.exceptions import BotoCoreError

    try:
        client = _session(service).create_client(
            service,
            region_name=registry.region,
            aws_access_key_id=secret.user,
            aws_secret_access_key=secret.password,
            aws_session_token=None,
            config=config,
        )
        # A port out of range passes botocore's check and fails only when it connects, as a
        # ValueError that could as well be about the answer: checked here instead.
        urlsplit(client.meta.endpoint_url).port  # noqa: B018 - parsing it is the check
    except ValueError as error:  # botocore's word for an endpoint URL it cannot parse
        if isinstance(error, BotoCoreError):  # some of botocore's own are ValueErrors too
            raise
        where = _endpoint_variable(registry) or "the AWS config file"  # its endpoint_url
        raise HelperError(
            f"{_who(secret, registry)}: the endpoint in {where} is not a valid URL; fix it"
        ) from None
    return client


def _decode(secret: Secret, registry: EcrRegistry, token: str) -> str:
    """The password inside `base64("AWS:<password>")`."""
    from binascii import Error, a2b_base64

    try:
        _user, _, password = a2b_base64(token.encode("ascii")).decode("utf-8").partition(":")
    except (Error, ValueError):
        password = ""
    if not password:
        raise HelperError(f"{_who(secret, registry)}: AWS answered with a malformed token")
    return password


def _who(secret: Secret, registry: EcrRegistry) -> str:
    return f"{registry.describe()} (secret {secret.variable(SECRET_SERVER)})"


def _permissions(registry: EcrRegistry) -> str:
    if registry.public:
        return "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
    return "ecr:GetAuthorizationToken"


def _client_error(secret: Secret, registry: EcrRegistry, error: Exception) -> str:
    """One sentence for an AWS refusal: what to fix, in which variable. AWS's text is left out."""
    response = getattr(error, "response", {})
    code = response.get("Error", {}).get("Code", "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    who = _who(secret, registry)
    if code in ("UnrecognizedClientException", "InvalidClientTokenId"):
        return f"{who}: AWS does not know the access key id in {secret.variable(SECRET_USER)}"
    if code in ("InvalidSignatureException", "SignatureDoesNotMatch"):
        return (
            f"{who}: AWS rejected the secret key in {secret.variable(SECRET_PASSWORD)}; "
            "check that it belongs to the access key id"
        )
    if code in ("AccessDeniedException", "AccessDenied"):
        return f"{who}: the access key lacks {_permissions(registry)}; check its IAM policy"
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
        return f"{who}: AWS throttled the token request; try again in a moment"
    if status >= 500:
        return f"{who}: AWS failed to answer ({code or status}); try again in a moment"
    return f"{who}: AWS refused the token request ({code or status or 'unknown error'})"


def _network_error(secret: Secret, registry: EcrRegistry, error: Exception) -> str:
    """One sentence for a request that got no answer: where it went and what to check."""
    where = endpoint(registry) or f"AWS in {registry.region}"
    if "@" in where:  # userinfo in an endpoint URL is a password, whoever put it there
        where = shown(where)
    name = type(error).__name__
    if "SSL" in name:
        reason = "TLS failed; check AWS_CA_BUNDLE and proxies"
    elif "Timeout" in name:
        reason = "the request timed out; check the network and proxies"
    elif "Connect" in name or "Proxy" in name:
        reason = "cannot connect; check the network, proxies and AWS_ENDPOINT_URL*"
    else:
        reason = f"the request failed ({name})"
    return f"{_who(secret, registry)}: {reason} ({where})"
