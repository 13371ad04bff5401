"""Which docker keys name ECR registries, and where each registry's token API is.

Matching is by string operations only: it runs on every `get` that a secret answers.
"""

from __future__ import annotations

import os

from ..constants import (
    ECR_DOMAINS,
    ECR_ENDPOINT_VARIABLES,
    ECR_PUBLIC_ENDPOINT_VARIABLES,
    ECR_PUBLIC_HOSTS,
    ECR_PUBLIC_REGION,
    ECR_SERVICE_LABELS,
)

_DIGITS = frozenset("0123456789")


class EcrRegistry:
    """An AWS ECR registry named by a docker key, with what the token exchange needs."""

    __slots__ = ("account", "host", "partition", "public", "region")

    def __init__(self, host: str, account: str, region: str, partition: str, public: bool):
        self.host = host
        self.account = account
        self.region = region
        self.partition = partition
        self.public = public

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
        return EcrRegistry(key, "", ECR_PUBLIC_REGION, "aws", True)
    labels = key.split(".")
    if len(labels) < 5:
        return None
    account = labels[0]
    if len(account) != 12 or not _DIGITS.issuperset(account):
        return None
    service = f"{labels[1]}.{labels[2]}" if labels[1] == "dkr" else labels[1]
    if service not in ECR_SERVICE_LABELS:
        return None
    rest = labels[3:] if labels[1] == "dkr" else labels[2:]
    if len(rest) < 2:
        return None
    region, domain = rest[0], ".".join(rest[1:])
    partition = ECR_DOMAINS.get(domain)
    if partition is None or not _valid_region(region):
        return None
    if partition == "aws" and region.startswith("us-gov-"):
        partition = "aws-us-gov"
    return EcrRegistry(key, account, region, partition, False)


def _valid_region(region: str) -> bool:
    """An AWS region name such as `us-east-1` or `us-gov-west-1`: letters, digits and dashes."""
    parts = region.split("-")
    return (
        len(parts) >= 3
        and parts[0].isalpha()
        and parts[-1].isdigit()
        and all(part and part.isalnum() for part in parts)
    )
