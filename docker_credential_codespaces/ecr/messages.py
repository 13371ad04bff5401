"""Every sentence the user reads about ECR: one line each, naming variables, never values.

AWS's own error text is left out on purpose: it can quote the request, and the request holds
the key id. Variables are named through the identity's prefix (AwsIdentity.variable), so this
module needs nothing of the secrets module.
"""

from __future__ import annotations

import os
import time

from ..constants import (
    ENV_AWS_SSO_ENDPOINT,
    ENV_AWS_STS_ENDPOINT,
    PROGRAM,
    SECRET_AWS_EXTERNAL_ID,
    SECRET_AWS_PROFILE,
    SECRET_AWS_ROLE_ARN,
    SECRET_AWS_SESSION_TOKEN,
    SECRET_PASSWORD,
    SECRET_SERVER,
    SECRET_USER,
)
from ..servers import redacted
from . import ACCESS_KEY, PROFILE, ROLE, TEMPORARY_KEY

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from . import AwsIdentity, EcrRegistry


def when(moment: float) -> str:
    """A moment as a person reads it in a message."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


def who(registry: EcrRegistry, identity: AwsIdentity) -> str:
    """How a message names the registry and the secret that configures it."""
    return f"{registry.describe()} (secret {identity.variable(SECRET_SERVER)})"


def misplaced_key(prefix: str, key: str) -> str:
    """Why the triple `prefix` is never answered: its USER holds an AWS access key, and its
    SERVER names `key`, a host that is not ECR (so it has no identity to name it by)."""
    server = prefix + SECRET_SERVER
    return (
        f"{prefix + SECRET_USER} holds an AWS access key id, but {server} names "
        f"{key}, which is not an ECR registry host; fix {server} "
        "(<account>.dkr.ecr.<region>.amazonaws.com or public.ecr.aws): an AWS secret key "
        "is never sent anywhere else"
    )


def expired_token(identity: AwsIdentity, expires_at: float) -> str:
    """A USER=AWS token that has expired, and the cure."""
    return (
        f"{identity.variable(SECRET_PASSWORD)} holds an ECR token that expired at "
        f"{when(expires_at)}; put the AWS "
        f"access key id in {identity.variable(SECRET_USER)} and the secret key in "
        f"{identity.variable(SECRET_PASSWORD)} instead, and the helper refreshes tokens itself"
    )


def expiring_token(identity: AwsIdentity) -> str:
    """doctor's warning for a USER=AWS token that stops working within the hour."""
    return f"{identity.variable(SECRET_PASSWORD)} holds an ECR token that expires within the hour"


def _permissions(registry: EcrRegistry) -> str:
    if registry.public:
        return "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
    return "ecr:GetAuthorizationToken"


def _holder(identity: AwsIdentity) -> str:
    """Who asked AWS for the token, as the person can find it in the secrets."""
    if identity.kind == ROLE:
        return f"the role {identity.role_arn}"
    if identity.kind == PROFILE:
        return f"the AWS profile {identity.profile!r}"
    return "the access key"


def missing_session_token(identity: AwsIdentity) -> str:
    """A temporary key without the session token it needs: said before AWS is asked."""
    return (
        f"{identity.variable(SECRET_USER)} holds a temporary AWS access key (ASIA...), which "
        "works only with its session token; add it as "
        f"{identity.variable(SECRET_AWS_SESSION_TOKEN)}"
    )


# AWS's codes for a caller that lacks a permission (ECR says the first, STS the second).
_ACCESS_DENIED = ("AccessDeniedException", "AccessDenied")


def _key_refused(head: str, identity: AwsIdentity, code: str) -> str | None:
    """The sentence for AWS refusing the key in the secrets themselves, or None."""
    if code in ("ExpiredToken", "ExpiredTokenException"):
        return f"{head}: {identity.variable(SECRET_AWS_SESSION_TOKEN)} has expired"
    unknown = code in ("UnrecognizedClientException", "InvalidClientTokenId")
    if unknown and identity.session_token:  # AWS says the same of a key and of its token
        return (
            f"{head}: AWS does not accept the key in {identity.variable(SECRET_USER)} with the "
            f"session token in {identity.variable(SECRET_AWS_SESSION_TOKEN)}; check that both "
            "come from the same session"
        )
    if unknown:
        return f"{head}: AWS does not know the access key id in {identity.variable(SECRET_USER)}"
    if code in ("InvalidSignatureException", "SignatureDoesNotMatch"):
        return (
            f"{head}: AWS rejected the secret key in {identity.variable(SECRET_PASSWORD)}; "
            "check that it belongs to the access key id"
        )
    return None


def refused(registry: EcrRegistry, identity: AwsIdentity, code: str, status: int) -> str:
    """One sentence for a refused GetAuthorizationToken: what to fix, in which variable.

    Signed with the secrets' own key, a key error is theirs; signed with a role's or a
    profile's keys, it is not, and is said as AWS's code.
    """
    head = who(registry, identity)
    own = identity.kind in (ACCESS_KEY, TEMPORARY_KEY)
    said = _key_refused(head, identity, code) if own else None
    if said is None and code in _ACCESS_DENIED:
        said = f"{head}: {_holder(identity)} lacks {_permissions(registry)}; check its IAM policy"
    return said or _common(head, code, status)


def role_refused(registry: EcrRegistry, identity: AwsIdentity, code: str, status: int) -> str:
    """One sentence for a refused AssumeRole, naming the variables, never their values."""
    head = who(registry, identity)
    user, arn = identity.variable(SECRET_USER), identity.role_arn
    if code in _ACCESS_DENIED and identity.external_id:
        return (
            f"{head}: the key in {user} may not assume {arn} with the external id in "
            f"{identity.variable(SECRET_AWS_EXTERNAL_ID)}; check the role's trust policy and "
            "its sts:ExternalId condition"
        )
    if code in _ACCESS_DENIED:
        return f"{head}: the key in {user} may not assume {arn}; check the role's trust policy"
    if code in ("MalformedPolicyDocument", "ValidationError"):
        return f"{head}: AWS refused the role in {identity.variable(SECRET_AWS_ROLE_ARN)} ({code})"
    return _key_refused(head, identity, code) or _common(head, code, status)


def _common(head: str, code: str, status: int) -> str:
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
        return f"{head}: AWS throttled the token request; try again in a moment"
    if status >= 500:
        return f"{head}: AWS failed to answer ({code or status}); try again in a moment"
    return f"{head}: AWS refused the token request ({code or status or 'unknown error'})"


def profile_missing(identity: AwsIdentity) -> str:
    return (
        f"{identity.variable(SECRET_AWS_PROFILE)} names the AWS profile {identity.profile!r}, "
        "which is not in your AWS config files (~/.aws/config, or AWS_CONFIG_FILE); add it, "
        "or fix the name"
    )


def profile_unreadable(identity: AwsIdentity, detail: str) -> str:
    """doctor's line for an AWS file it cannot read or parse (`detail` names it and why), in
    which the profile may be: botocore would not read it either."""
    return f"{_profile(identity)} cannot be looked up: {detail}; make it a regular AWS config file"


def profile_failed(identity: AwsIdentity, error: Exception) -> str:
    """A profile whose credentials botocore could not get, said so the person can act."""
    name, profile = type(error).__name__, identity.profile
    if "SSO" in name or "Token" in name or "Unauthorized" in name:
        login = f"aws sso login --profile {profile}"
        return f"{_profile(identity)} has no valid SSO session; run `{login}`"
    if "CredentialRetrieval" in name:
        return (
            f"{_profile(identity)} could not get its credentials (its credential_process "
            "failed); run that command to see why"
        )
    return f"{_profile(identity)} could not get its credentials ({name})"


def _profile(identity: AwsIdentity) -> str:
    """How a message names a profile identity: the profile, and the variable that names it."""
    return f"the AWS profile {identity.profile!r} ({identity.variable(SECRET_AWS_PROFILE)})"


def sso_expired(identity: AwsIdentity, expires_at: float) -> str:
    state = f"expired at {when(expires_at)}" if expires_at > 0 else "has no cached login"
    return (
        f"the SSO session of the AWS profile {identity.profile!r} "
        f"({identity.variable(SECRET_AWS_PROFILE)}) {state}; run "
        f"`aws sso login --profile {identity.profile}`"
    )


def profile_empty(identity: AwsIdentity) -> str:
    return (
        f"{_profile(identity)} gives no "
        "credentials; give it sso_session, credential_process, role_arn or keys"
    )


def _where(registry: EcrRegistry, service: str) -> str:
    """Where a request for `service` went: its endpoint, masked (servers.redacted), or AWS.

    An endpoint URL's userinfo and query may hold a password or an API key, whoever put them
    there: shown, and so stored in the outcome file, only as servers.redacted masks them.
    """
    if service == "sts":
        endpoint, default = os.environ.get(ENV_AWS_STS_ENDPOINT), f"AWS STS in {registry.region}"
    elif service in _SSO_SERVICES:
        endpoint, default = os.environ.get(ENV_AWS_SSO_ENDPOINT), "the AWS SSO portal"
    else:
        endpoint, default = registry.endpoint(), f"AWS in {registry.region}"
    return redacted(endpoint) if endpoint else default


# botocore's names for the SSO portal's APIs, which a profile's SSO login is resolved through.
_SSO_SERVICES = ("sso", "sso-oidc")


def unanswered(
    registry: EcrRegistry, identity: AwsIdentity, error_name: str, service: str = "ecr"
) -> str:
    """One sentence for a request that got no answer: where it went and what to check."""
    if "SSL" in error_name:
        reason = "TLS failed; check AWS_CA_BUNDLE and proxies"
    elif "Timeout" in error_name:
        reason = "the request timed out; check the network and proxies"
    elif "Connect" in error_name or "Proxy" in error_name:
        reason = "cannot connect; check the network, proxies and AWS_ENDPOINT_URL*"
    else:
        reason = f"the request failed ({error_name})"
    return f"{who(registry, identity)}: {reason} ({_where(registry, service)})"


# The stage an exchange names while a profile's credential_process runs (see `late`); the
# others are botocore's names of the service a request goes to.
CREDENTIAL_PROCESS = "credential_process"


def late(registry: EcrRegistry, identity: AwsIdentity, stage: str, seconds: float) -> str:
    """An exchange stopped at its deadline, by what it was waiting on: the profile's
    credential_process, or a request (its name lookup included) to the service `stage`."""
    if stage == CREDENTIAL_PROCESS:
        return (
            f"{_profile(identity)}: "
            f"its credential_process gave no answer within {seconds:.3g} s and was stopped; "
            "run it to see why"
        )
    return (
        f"{who(registry, identity)}: the exchange timed out (no answer within {seconds:.3g} s); "
        f"check the network, name resolution and proxies ({_where(registry, stage or 'ecr')})"
    )


def lost(registry: EcrRegistry, identity: AwsIdentity) -> str:
    """The exchange's process ended without a word (killed from outside, out of memory)."""
    return f"{who(registry, identity)}: the token exchange ended without an answer; try again"


def no_process(registry: EcrRegistry, identity: AwsIdentity, reason: str) -> str:
    """No process could be started for the exchange (a process limit, no memory)."""
    return f"{who(registry, identity)}: cannot start a process for the token exchange ({reason})"


def aws_file_unparsable(registry: EcrRegistry, identity: AwsIdentity, path: str) -> str:
    """An AWS config or credentials file botocore cannot parse: the file is what to fix, not
    the identity (botocore reads the config file for a key too)."""
    return (
        f"{who(registry, identity)}: botocore cannot parse {path}, an AWS file it reads for "
        "this exchange; fix its syntax"
    )


def credential_source_refused(identity: AwsIdentity, profile: str, source: str) -> str:
    """A role whose keys would come from the environment, a container or the instance
    (`credential_source`): never used, as the secrets name the identity."""
    where = "" if profile == identity.profile else f" through its source profile {profile!r}"
    return (
        f"{_profile(identity)} takes "
        f"its role's keys from credential_source = {source}{where}, which this helper never "
        "uses (only the AWS config and credentials files); give the role a source_profile "
        "with keys, SSO or a credential_process instead"
    )


def bad_endpoint(registry: EcrRegistry, identity: AwsIdentity, service: str = "ecr") -> str:
    """An endpoint URL botocore cannot use, named by where it came from."""
    if service == "sts":
        where = ENV_AWS_STS_ENDPOINT if os.environ.get(ENV_AWS_STS_ENDPOINT) else ""
    else:
        where = registry.endpoint_variable()
    where = where or "the AWS config file"  # its endpoint_url
    return f"{who(registry, identity)}: the endpoint in {where} is not a valid URL; fix it"


def no_usable_token(registry: EcrRegistry, identity: AwsIdentity) -> str:
    return f"{who(registry, identity)}: AWS answered without a usable token"


def malformed_token(registry: EcrRegistry, identity: AwsIdentity) -> str:
    return f"{who(registry, identity)}: AWS answered with a malformed token"


BOTO_MISSING = "boto3 is missing; reinstall docker-credential-codespaces"


def short_lived(registry: EcrRegistry, identity: AwsIdentity, expires_at: float) -> str:
    """AWS handed out a token with less life left than a pull needs (Token.good says no)."""
    return (
        f"{who(registry, identity)}: AWS returned a token about to expire (at "
        f"{when(expires_at)}); check this machine's clock, or renew the temporary key, whose "
        "end ends its tokens"
    )


def busy(registry: EcrRegistry, identity: AwsIdentity) -> str:
    return (
        f"{who(registry, identity)}: another {PROGRAM} process is still fetching its token; "
        "try again"
    )


def refresh_failed(at: float, failure: str) -> str:
    """doctor's line for the last exchange, when it failed (the cached token may still serve)."""
    return f"the last token refresh, at {when(at)}, failed: {failure}"
