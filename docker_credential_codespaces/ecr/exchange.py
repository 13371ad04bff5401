"""The ECR exchange: an AWS access key becomes a registry token, through botocore.

botocore, boto3's engine, is imported only here and only when the cache cannot answer:
importing it costs more than everything else the helper does, and boto3's own layer on top
adds nothing this call needs. The client gets exactly the secret's keys (never the default
credential chain, so no instance-metadata probing and no surprise profile) and bounded
timeouts, so a dead endpoint is a clear error instead of a hung pull.
"""

from __future__ import annotations

import os
import time

from ..constants import ECR_CONNECT_TIMEOUT, ECR_MAX_ATTEMPTS, ECR_READ_TIMEOUT
from ..wire import HelperError
from . import messages
from .token import Token

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from typing import Any

    from botocore.config import Config
    from botocore.session import Session

    from ..secrets import Secret
    from . import AwsIdentity, EcrRegistry


def _session(service: str) -> Session:
    """A botocore session whose data loader is told that `service` exists, not left to look.

    Before it loads a model, botocore's loader checks the service name against a listing of
    every service directory it ships (each listed again for its versions), once for the model
    and once for the endpoint rules: a large share of a cold `get`. The one service this
    client calls is known. AWS_DATA_PATH applies as in botocore's own `create_loader`.
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


def exchange(secret: Secret, registry: EcrRegistry, identity: AwsIdentity) -> Token:
    """Call GetAuthorizationToken with the identity's keys; errors name the secret, never it."""
    try:
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise HelperError(messages.BOTO_MISSING) from None
    config = Config(
        connect_timeout=ECR_CONNECT_TIMEOUT,
        read_timeout=ECR_READ_TIMEOUT,
        retries={"max_attempts": ECR_MAX_ATTEMPTS, "mode": "standard"},
    )
    fetched_at = time.time()
    try:
        client = _client(secret, registry, identity, config)
        data = client.get_authorization_token()["authorizationData"]
        if not registry.public:
            data = data[0]
        token, expires_at = data["authorizationToken"], data["expiresAt"].timestamp()
    except ClientError as error:
        response = getattr(error, "response", {})
        code = response.get("Error", {}).get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        raise HelperError(messages.refused(secret, registry, code, status)) from None
    except BotoCoreError as error:
        raise HelperError(messages.unanswered(secret, registry, type(error).__name__)) from None
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, RuntimeError):
        # An answer of the wrong shape; botocore raises ValueError or RuntimeError for an
        # expiresAt that is no date.
        raise HelperError(messages.no_usable_token(secret, registry)) from None
    return Token(_decode(secret, registry, token), expires_at, fetched_at)


def _client(secret: Secret, registry: EcrRegistry, identity: AwsIdentity, config: Config) -> Any:
    """A botocore client with exactly the identity's keys; an endpoint it cannot use is named."""
    from urllib.parse import urlsplit  # botocore has loaded it already

    from botocore.exceptions import BotoCoreError

    service = registry.service()
    try:
        client = _session(service).create_client(
            service,
            region_name=registry.region,
            aws_access_key_id=identity.key_id,
            aws_secret_access_key=identity.secret,
            aws_session_token=None,
            config=config,
        )
        # A port out of range passes botocore's check and fails only when it connects, as a
        # ValueError that could as well be about the answer: checked here instead.
        urlsplit(client.meta.endpoint_url).port  # noqa: B018 - parsing it is the check
    except ValueError as error:  # botocore's word for an endpoint URL it cannot parse
        if isinstance(error, BotoCoreError):  # some of botocore's own are ValueErrors too
            raise
        raise HelperError(messages.bad_endpoint(secret, registry)) from None
    return client


def _decode(secret: Secret, registry: EcrRegistry, token: str) -> str:
    """The password inside `base64("AWS:<password>")`."""
    from binascii import Error, a2b_base64

    try:
        _user, _, password = a2b_base64(token.encode("ascii")).decode("utf-8").partition(":")
    except (Error, ValueError):
        password = ""
    if not password:
        raise HelperError(messages.malformed_token(secret, registry))
    return password
