"""The ECR exchange: an AWS identity becomes a registry token, through botocore.

botocore, boto3's engine, is imported only here and only when the cache cannot answer:
importing it costs more than everything else the helper does, and boto3's own layer on top
adds nothing this call needs. The client gets exactly the identity's keys (never the default
credential chain, so no instance-metadata probing and no surprise profile): the secret's
own, those of the role it assumes through STS (in the registry's region and partition), or
those botocore resolves for the profile it names. Timeouts are bounded, so a dead endpoint is
a clear error instead of a hung pull. Role credentials are not cached: the token they buy is,
for its whole life, so a role is assumed once per refresh, and nothing but tokens is written.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

from ..constants import (
    AWS_CONTAINER_CREDENTIAL_VARIABLES,
    AWS_METADATA_DISABLED,
    ECR_CONNECT_TIMEOUT,
    ECR_MAX_ATTEMPTS,
    ECR_READ_TIMEOUT,
)
from ..wire import HelperError
from . import PROFILE, ROLE, messages
from .token import Token

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from botocore.config import Config
    from botocore.session import Session

    from . import AwsIdentity, EcrRegistry


# The APIs this helper may call, or that botocore calls for it to resolve a profile.
SERVICES = ("ecr", "ecr-public", "sts", "sso")
# botocore's names for the credential providers a profile's resolution must never use: the
# environment's keys (the secrets name the identity, not the shell), the container endpoint
# and the instance metadata (a dev container is not the instance, and probing it stalls).
_FORBIDDEN_PROVIDERS = ("env", "container-role", "iam-role")
# Held while os.environ is changed for a profile's resolution: doctor's checks resolve from a
# thread pool, and one thread must not put back what another has just set.
_ENVIRON_LOCK = threading.Lock()


def _session(profile: str = "") -> Session:
    """A botocore session for one identity, whose data loader is told which services exist.

    Without a profile, an AWS_PROFILE in the environment is ignored: the secrets carry the
    identity, and a profile named there for other tools (or missing) must not break or steer
    the exchange; the config file's default settings still apply, as to every AWS tool.

    Before it loads a model, botocore's loader checks the service name against a listing of
    every service directory it ships (each listed again for its versions): a large share of a
    cold `get`. The services this helper uses are known. AWS_DATA_PATH applies as in
    botocore's own `create_loader`.
    """
    import botocore.session
    from botocore.loaders import Loader

    class KnownServicesLoader(Loader):
        """botocore's loader, but the services this helper uses are known to exist."""

        def list_available_services(self, type_name: str) -> list[str]:
            return list(SERVICES)

    if profile:
        session = botocore.session.Session(profile=profile)
    else:
        session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    session.set_config_variable("sts_regional_endpoints", "regional")
    data_path = session.get_config_variable("data_path") or ""
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep) if p]
    session.register_component("data_loader", KnownServicesLoader(extra_search_paths=extra))
    return session


def client_config(registry: EcrRegistry) -> Config:
    """Bounded timeouts and attempts, and the FIPS endpoint for a FIPS host."""
    from botocore.config import Config

    return Config(
        connect_timeout=ECR_CONNECT_TIMEOUT,
        read_timeout=ECR_READ_TIMEOUT,
        retries={"max_attempts": ECR_MAX_ATTEMPTS, "mode": "standard"},
        use_fips_endpoint=registry.fips,
    )


class _Deadline(BaseException):
    """Raised by the timer in the middle of botocore's work: a BaseException, so that none of
    botocore's `except Exception` (its retries among them) can take it for a failed try."""


def exchange(registry: EcrRegistry, identity: AwsIdentity, budget: float) -> Token:
    """Resolve the identity's keys and call GetAuthorizationToken with them, within `budget`
    seconds in all.

    botocore bounds each try (connect and read timeouts) but not their sum, nor an AssumeRole
    before them, nor a server that answers a byte at a time; a real-time timer bounds the
    whole. Signals reach the main thread only, so elsewhere (doctor's checks run in a thread
    pool, each with a limit of its own) only botocore's bounds apply.
    Errors name the secret's variables, never their values.
    """
    import signal

    def expire(signum: int, frame: object) -> None:
        raise _Deadline

    if threading.current_thread() is not threading.main_thread():
        return _exchange(registry, identity)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(budget, 0.001))
    try:
        return _exchange(registry, identity)
    except _Deadline:
        raise HelperError(messages.unanswered(registry, identity, messages.DEADLINE)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _exchange(registry: EcrRegistry, identity: AwsIdentity) -> Token:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise HelperError(messages.BOTO_MISSING) from None
    config = client_config(registry)
    fetched_at = time.time()
    try:
        session = _session(identity.profile if identity.kind == PROFILE else "")
    except BotoCoreError:  # a profile that does not exist, found as the session reads it
        raise HelperError(messages.profile_missing(identity)) from None
    keys = _keys(registry, identity, session, config)
    try:
        client = _client(session, registry.service(), registry, identity, keys, config)
        data = client.get_authorization_token()["authorizationData"]
        if not registry.public:
            data = data[0]
        token, expires_at = data["authorizationToken"], data["expiresAt"].timestamp()
    except ClientError as error:
        code, status = _error_code(error)
        raise HelperError(messages.refused(registry, identity, code, status)) from None
    except BotoCoreError as error:
        raise HelperError(messages.unanswered(registry, identity, type(error).__name__)) from None
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, RuntimeError):
        # An answer of the wrong shape; botocore raises ValueError or RuntimeError for an
        # expiresAt that is no date.
        raise HelperError(messages.no_usable_token(registry, identity)) from None
    answer = Token(_decode(registry, identity, token), expires_at, fetched_at)
    if not answer.plausible():  # an expiry no clock can show, or years away
        raise HelperError(messages.no_usable_token(registry, identity))
    return answer


Keys = tuple[str, str, str]  # access key id, secret key, session token ("" for none)


def _error_code(error: Exception) -> tuple[str, int]:
    response = getattr(error, "response", {})
    code = response.get("Error", {}).get("Code", "")
    return code, response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def _keys(registry: EcrRegistry, identity: AwsIdentity, session: Session, config: Config) -> Keys:
    """The keys that sign GetAuthorizationToken: the secret's own, a role's, or a profile's."""
    if identity.kind == PROFILE:
        return _profile_keys(identity, session)
    keys = (identity.key_id, identity.secret_key, identity.session_token)
    if identity.kind != ROLE:
        return keys
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sts = _client(session, "sts", registry, identity, keys, config)
        request = {"RoleArn": identity.role_arn, "RoleSessionName": identity.session_name}
        if identity.external_id:
            request["ExternalId"] = identity.external_id
        answer = sts.assume_role(**request)["Credentials"]
        return answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]
    except ClientError as error:
        code, status = _error_code(error)
        raise HelperError(messages.role_refused(registry, identity, code, status)) from None
    except BotoCoreError as error:
        name = type(error).__name__
        raise HelperError(messages.unanswered(registry, identity, name, "sts")) from None
    except (KeyError, TypeError):
        raise HelperError(messages.no_usable_token(registry, identity)) from None


def _profile_keys(identity: AwsIdentity, session: Session) -> Keys:
    """A named profile's keys, by botocore's own resolution (SSO, credential_process, a role
    with a source profile, static keys), never from the environment or a metadata endpoint."""
    from botocore.exceptions import ProfileNotFound

    with _no_instance_credentials():
        resolver = session.get_component("credential_provider")
        for name in _FORBIDDEN_PROVIDERS:
            resolver.remove(name)
        try:
            credentials = session.get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials is not None else None
        except ProfileNotFound:
            raise HelperError(messages.profile_missing(identity)) from None
        except Exception as error:  # BotoCoreError, and others: a ClientError of the SSO portal
            raise HelperError(messages.profile_failed(identity, error)) from None
    if frozen is None or not frozen.access_key:
        raise HelperError(messages.profile_empty(identity))
    return frozen.access_key, frozen.secret_key or "", frozen.token or ""


@contextmanager
def _no_instance_credentials() -> Iterator[None]:
    """While a profile is resolved: the instance metadata off and the container endpoint
    unset, then os.environ put back exactly as it was.

    Removing the providers from the resolver is not enough: a profile's role may name the
    instance or the container as its credential_source, and botocore builds those providers
    from os.environ when the resolver is made and reads it when they load. The rest of the
    process (doctor goes on after its checks) must find the environment it had.
    """
    names = (AWS_METADATA_DISABLED, *AWS_CONTAINER_CREDENTIAL_VARIABLES)
    with _ENVIRON_LOCK:
        saved = {name: os.environ.get(name) for name in names}
        os.environ[AWS_METADATA_DISABLED] = "true"
        for name in AWS_CONTAINER_CREDENTIAL_VARIABLES:
            os.environ.pop(name, None)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _client(
    session: Session,
    service: str,
    registry: EcrRegistry,
    identity: AwsIdentity,
    keys: Keys,
    config: Config,
) -> Any:
    """A botocore client with exactly these keys; an endpoint it cannot use is named."""
    from urllib.parse import urlsplit  # botocore has loaded it already

    from botocore.exceptions import BotoCoreError

    key_id, secret_key, session_token = keys
    try:
        client = session.create_client(
            service,
            region_name=registry.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token or None,
            config=config,
        )
        # A port out of range passes botocore's check and fails only when it connects, as a
        # ValueError that could as well be about the answer: checked here instead.
        urlsplit(client.meta.endpoint_url).port  # noqa: B018 - parsing it is the check
    except ValueError as error:  # botocore's word for an endpoint URL it cannot parse
        if isinstance(error, BotoCoreError):  # some of botocore's own are ValueErrors too
            raise
        raise HelperError(messages.bad_endpoint(registry, identity, service)) from None
    return client


def _decode(registry: EcrRegistry, identity: AwsIdentity, token: str) -> str:
    """The password inside `base64("AWS:<password>")`."""
    from binascii import Error, a2b_base64

    try:
        _user, _, password = a2b_base64(token.encode("ascii")).decode("utf-8").partition(":")
    except (Error, ValueError):
        password = ""
    if not password:
        raise HelperError(messages.malformed_token(registry, identity))
    return password
