"""Everything the helper knows about AWS ECR, in one package.

This module holds what every `get` that a secret answers needs, so that it costs one import:
which docker keys name ECR registries (and where their token API is), and what kind of AWS
credential a triple holds. The rest is loaded only when a token is needed:

- `token`: a registry token and the one rule for whether it is still good;
- `cache`: tokens shared by every docker process, one file each, under a lock;
- `exchange`: GetAuthorizationToken through botocore, imported only there;
- `answer`: one registry's token, `RegistryToken`: what an ECR secret answers, from the cache
  or a fresh exchange, refreshed behind the pull, and doctor's view of it;
- `messages`: every sentence the user reads about ECR.

No module of this package imports the secrets module, which imports this one: an identity
carries its triple's variable prefix, and the messages name variables through it.

Host matching is by string operations only. For an ECR registry, USER `AWS` means PASSWORD is
a registry token fetched earlier; any other USER is an AWS access key id and PASSWORD its
secret key, exchanged for a token. For every other host, a USER that is an access key id makes
the triple unusable: answered as a plain password, its secret key would go to whatever a
mistyped SERVER names.

AWS values never hold white space, while a secret pasted into a form easily gains a trailing
newline or space, so an ECR triple's USER and PASSWORD are trimmed here (and only here) before
they are used; a key id with white space around it is still a key id. Everything else is
answered exactly as written, as docker keeps white space in secrets.
"""

from __future__ import annotations

import os

from ..constants import (
    AWS_DEFAULT_ROLE_SESSION_NAME,
    AWS_KEY_ID_LENGTH,
    AWS_KEY_ID_PREFIXES,
    AWS_TEMPORARY_KEY_PREFIX,
    ECR_DOMAINS,
    ECR_ENDPOINT_VARIABLES,
    ECR_PUBLIC_ENDPOINT_VARIABLES,
    ECR_PUBLIC_HOSTS,
    ECR_PUBLIC_REGION,
    ECR_SERVICE_LABELS,
    ECR_TOKEN_USERNAME,
    SECRET_AWS_EXTERNAL_ID,
    SECRET_AWS_PROFILE,
    SECRET_AWS_ROLE_ARN,
    SECRET_AWS_ROLE_SESSION_NAME,
    SECRET_AWS_SESSION_TOKEN,
)

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Callable

# -- which keys are ECR registries ---------------------------------------------------------


class EcrRegistry:
    """An AWS ECR registry named by a docker key, with what the token exchange needs."""

    __slots__ = ("account", "fips", "host", "partition", "public", "region")

    def __init__(
        self, host: str, account: str, region: str, partition: str, public: bool, fips: bool
    ) -> None:
        self.host = host
        self.account = account
        self.region = region
        self.partition = partition
        self.public = public
        self.fips = fips  # a FIPS host's tokens come from the FIPS endpoint of the API

    def describe(self) -> str:
        """How the registry is named to a person."""
        return "ECR Public" if self.public else f"ECR {self.account} in {self.region}"

    def service(self) -> str:
        """botocore's name for the API that issues this registry's tokens."""
        return "ecr-public" if self.public else "ecr"

    def endpoint_variable(self) -> str:
        """The variable that sets this registry's API endpoint (the first one set), or ""."""
        names = ECR_PUBLIC_ENDPOINT_VARIABLES if self.public else ECR_ENDPOINT_VARIABLES
        return next((name for name in names if os.environ.get(name)), "")

    def endpoint(self) -> str:
        """The endpoint override botocore will use for this registry's API, or "" for AWS."""
        variable = self.endpoint_variable()
        return os.environ[variable] if variable else ""


def registry(key: str) -> EcrRegistry | None:
    """The ECR registry behind a docker key, or None for every other host (look-alikes too).

    Private: `<12 digits>.dkr.ecr[-fips].<region>.<domain>` and the dual-stack
    `<12 digits>.dkr-ecr[-fips].<region>.<domain>`; public: `public.ecr.aws`, `ecr-public.aws.com`.
    """
    if key in ECR_PUBLIC_HOSTS:
        return EcrRegistry(key, "", ECR_PUBLIC_REGION, "aws", True, False)
    labels = key.split(".")
    if len(labels) < 5:
        return None
    account = labels[0]
    if len(account) != 12 or not (account.isascii() and account.isdigit()):
        return None
    service = f"{labels[1]}.{labels[2]}" if labels[1] == "dkr" else labels[1]
    if service not in ECR_SERVICE_LABELS:
        return None
    rest = labels[3:] if labels[1] == "dkr" else labels[2:]  # five labels leave two here
    region, domain = rest[0], ".".join(rest[1:])
    partition = ECR_DOMAINS.get(domain)
    if partition is None or not _valid_region(region):
        return None
    if partition == "aws" and region.startswith("us-gov-"):
        partition = "aws-us-gov"
    return EcrRegistry(key, account, region, partition, False, service.endswith("-fips"))


def _valid_region(region: str) -> bool:
    """An AWS region name such as `us-east-1` or `us-gov-west-1`: letters, digits and dashes."""
    parts = region.split("-")
    return (
        len(parts) >= 3
        and parts[0].isalpha()
        and parts[-1].isdigit()
        and all(part and part.isalnum() for part in parts)
    )


# -- what AWS credential a triple holds ----------------------------------------------------

ACCESS_KEY = "access key"
TEMPORARY_KEY = "temporary key"
ROLE = "role"
PROFILE = "profile"
TOKEN = "token"


class AwsIdentity:
    """The AWS credential of one ECR triple: its kind and trimmed values. Its repr hides them.

    - ACCESS_KEY: `key_id` and `secret`;
    - TEMPORARY_KEY: the same with `session_token` (empty when the secrets lack it);
    - ROLE: a key (long-term or temporary) that assumes `role_arn`, with `external_id` and
      `session_name`;
    - PROFILE: `profile`, resolved by botocore from the user's AWS config files;
    - TOKEN: `token` is a registry token fetched earlier.

    `prefix` is the triple's variable prefix, used only to name its variables in messages:
    it is no part of the cache key, so renaming a secret costs no token.
    """

    __slots__ = (
        "external_id",
        "key_id",
        "kind",
        "prefix",
        "profile",
        "role_arn",
        "secret_key",
        "session_name",
        "session_token",
        "token",
    )

    def __init__(
        self,
        kind: str,
        key_id: str = "",
        secret_key: str = "",
        session_token: str = "",
        role_arn: str = "",
        external_id: str = "",
        session_name: str = "",
        profile: str = "",
        *,
        prefix: str,
        token: str = "",
    ) -> None:
        self.kind = kind
        self.key_id = key_id
        self.secret_key = secret_key
        self.session_token = session_token
        self.role_arn = role_arn
        self.external_id = external_id
        self.session_name = session_name
        self.profile = profile
        self.prefix = prefix
        self.token = token

    def __repr__(self) -> str:
        return f"AwsIdentity(kind={self.kind!r})"

    def parts(self) -> tuple[str, ...]:
        """Everything that makes this identity's tokens its own, for the cache key."""
        return (
            self.kind,
            self.key_id,
            self.secret_key,
            self.session_token,
            self.role_arn,
            self.external_id,
            self.session_name,
            self.profile,
        )

    def variable(self, suffix: str) -> str:
        """The full name of one of the triple's variables, for messages."""
        return self.prefix + suffix

    def lacks_session_token(self) -> bool:
        """A temporary key (ASIA...) without its session token: AWS would refuse it."""
        return self.key_id.startswith(AWS_TEMPORARY_KEY_PREFIX) and not self.session_token


def aws_value(text: str) -> str:
    """A USER, PASSWORD or companion as AWS reads it: without the white space a paste adds."""
    return text.strip()


def is_access_key_id(text: str) -> bool:
    """Whether a value is an AWS access key id, AKIA (long-term) or ASIA (temporary) + 16."""
    key_id = aws_value(text)
    return (
        len(key_id) == AWS_KEY_ID_LENGTH
        and key_id.startswith(AWS_KEY_ID_PREFIXES)
        and key_id.isascii()
        and key_id.isalnum()
        and key_id == key_id.upper()
    )


def identity(
    prefix: str,
    user: str,
    password: str,
    registry: EcrRegistry | None,
    companion: Callable[[str], str],
) -> AwsIdentity | None:
    """The AWS credential the triple `prefix` holds for its registry; None for plain
    credentials.

    `companion(suffix)` is the value of the triple's companion variable with that suffix
    (SECRET_AWS_PROFILE and the rest), or "" when it is not set; it is asked only for ECR.
    """
    if registry is None:
        return None
    user, password = aws_value(user), aws_value(password)
    if not user and not password:
        profile = aws_value(companion(SECRET_AWS_PROFILE))
        return AwsIdentity(PROFILE, profile=profile, prefix=prefix)
    if user == ECR_TOKEN_USERNAME:
        return AwsIdentity(TOKEN, token=password, prefix=prefix)
    session_token = aws_value(companion(SECRET_AWS_SESSION_TOKEN))
    role_arn = aws_value(companion(SECRET_AWS_ROLE_ARN))
    if role_arn:
        return AwsIdentity(
            ROLE,
            user,
            password,
            session_token,
            role_arn,
            aws_value(companion(SECRET_AWS_EXTERNAL_ID)),
            aws_value(companion(SECRET_AWS_ROLE_SESSION_NAME)) or AWS_DEFAULT_ROLE_SESSION_NAME,
            prefix=prefix,
        )
    temporary = session_token or user.startswith(AWS_TEMPORARY_KEY_PREFIX)
    kind = TEMPORARY_KEY if temporary else ACCESS_KEY
    return AwsIdentity(kind, user, password, session_token, prefix=prefix)


def misplaced_key(user: str, registry: EcrRegistry | None) -> bool:
    """Whether a triple holds an AWS access key for a host that is not ECR: never answered."""
    return registry is None and is_access_key_id(user)
