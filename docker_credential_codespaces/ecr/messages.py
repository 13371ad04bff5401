"""Every sentence the user reads about ECR: one line each, naming variables, never values.

AWS's own error text is left out on purpose: it can quote the request, and the request holds
the key id.
"""

from __future__ import annotations

import time

from ..constants import SECRET_PASSWORD, SECRET_SERVER, SECRET_USER
from ..servers import shown

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from ..secrets import Secret
    from . import EcrRegistry


def when(moment: float) -> str:
    """A moment as a person reads it in a message."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


def who(secret: Secret, registry: EcrRegistry) -> str:
    """How a message names the registry and the secret that configures it."""
    return f"{registry.describe()} (secret {secret.variable(SECRET_SERVER)})"


def misplaced_key(secret: Secret) -> str:
    """Why a triple with an access key for a host that is not ECR is never answered."""
    server = secret.variable(SECRET_SERVER)
    return (
        f"{secret.variable(SECRET_USER)} holds an AWS access key id, but {server} names "
        f"{secret.key}, which is not an ECR registry host; fix {server} "
        "(<account>.dkr.ecr.<region>.amazonaws.com or public.ecr.aws): an AWS secret key "
        "is never sent anywhere else"
    )


def expired_token(secret: Secret, expires_at: float) -> str:
    """A USER=AWS token that has expired, and the cure."""
    return (
        f"{secret.variable(SECRET_PASSWORD)} holds an ECR token that expired at "
        f"{when(expires_at)}; put the AWS "
        f"access key id in {secret.variable(SECRET_USER)} and the secret key in "
        f"{secret.variable(SECRET_PASSWORD)} instead, and the helper refreshes tokens itself"
    )


def expiring_token(secret: Secret) -> str:
    """doctor's warning for a USER=AWS token that stops working within the hour."""
    return f"{secret.variable(SECRET_PASSWORD)} holds an ECR token that expires within the hour"


def _permissions(registry: EcrRegistry) -> str:
    if registry.public:
        return "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
    return "ecr:GetAuthorizationToken"


def refused(secret: Secret, registry: EcrRegistry, code: str, status: int) -> str:
    """One sentence for an AWS refusal: what to fix, in which variable."""
    head = who(secret, registry)
    if code in ("UnrecognizedClientException", "InvalidClientTokenId"):
        return f"{head}: AWS does not know the access key id in {secret.variable(SECRET_USER)}"
    if code in ("InvalidSignatureException", "SignatureDoesNotMatch"):
        return (
            f"{head}: AWS rejected the secret key in {secret.variable(SECRET_PASSWORD)}; "
            "check that it belongs to the access key id"
        )
    if code in ("AccessDeniedException", "AccessDenied"):
        return f"{head}: the access key lacks {_permissions(registry)}; check its IAM policy"
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
        return f"{head}: AWS throttled the token request; try again in a moment"
    if status >= 500:
        return f"{head}: AWS failed to answer ({code or status}); try again in a moment"
    return f"{head}: AWS refused the token request ({code or status or 'unknown error'})"


def unanswered(secret: Secret, registry: EcrRegistry, error_name: str) -> str:
    """One sentence for a request that got no answer: where it went and what to check."""
    where = registry.endpoint() or f"AWS in {registry.region}"
    if "@" in where:  # userinfo in an endpoint URL is a password, whoever put it there
        where = shown(where)
    if "SSL" in error_name:
        reason = "TLS failed; check AWS_CA_BUNDLE and proxies"
    elif "Timeout" in error_name:
        reason = "the request timed out; check the network and proxies"
    elif "Connect" in error_name or "Proxy" in error_name:
        reason = "cannot connect; check the network, proxies and AWS_ENDPOINT_URL*"
    else:
        reason = f"the request failed ({error_name})"
    return f"{who(secret, registry)}: {reason} ({where})"


def bad_endpoint(secret: Secret, registry: EcrRegistry) -> str:
    """An endpoint URL botocore cannot use, named by where it came from."""
    where = registry.endpoint_variable() or "the AWS config file"  # its endpoint_url
    return f"{who(secret, registry)}: the endpoint in {where} is not a valid URL; fix it"


def no_usable_token(secret: Secret, registry: EcrRegistry) -> str:
    return f"{who(secret, registry)}: AWS answered without a usable token"


def malformed_token(secret: Secret, registry: EcrRegistry) -> str:
    return f"{who(secret, registry)}: AWS answered with a malformed token"


BOTO_MISSING = "boto3 is missing; reinstall docker-credential-codespaces"
