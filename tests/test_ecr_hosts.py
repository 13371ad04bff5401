"""ECR host parsing: which docker keys are ECR registries, as tables of good and bad names."""

from __future__ import annotations

import pytest

from docker_credential_codespaces.ecr import registry as ecr_registry
from docker_credential_codespaces.servers import docker_key


@pytest.mark.parametrize(
    ("host", "account", "region", "partition", "public"),
    [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012", "us-east-1", "aws", False),
        (
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
            "123456789012",
            "us-east-1",
            "aws",
            False,
        ),
        ("123456789012.dkr-ecr.eu-west-1.on.aws", "123456789012", "eu-west-1", "aws", False),
        ("123456789012.dkr-ecr-fips.us-west-2.on.aws", "123456789012", "us-west-2", "aws", False),
        (
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "123456789012",
            "cn-north-1",
            "aws-cn",
            False,
        ),
        (
            "123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn",
            "123456789012",
            "cn-northwest-1",
            "aws-cn",
            False,
        ),
        (
            "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
            "123456789012",
            "us-gov-west-1",
            "aws-us-gov",
            False,
        ),
        (
            "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
            "123456789012",
            "eusc-de-east-1",
            "aws-eusc",
            False,
        ),
        (
            "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
            "123456789012",
            "us-iso-east-1",
            "aws-iso",
            False,
        ),
        (
            "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
            "123456789012",
            "us-isob-east-1",
            "aws-iso-b",
            False,
        ),
        (
            "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
            "123456789012",
            "eu-isoe-west-1",
            "aws-iso-e",
            False,
        ),
        (
            "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
            "123456789012",
            "us-isof-south-1",
            "aws-iso-f",
            False,
        ),
        ("public.ecr.aws", "", "us-east-1", "aws", True),
        ("ecr-public.aws.com", "", "us-east-1", "aws", True),
    ],
)
def test_ecr_hosts(host: str, account: str, region: str, partition: str, public: bool) -> None:
    registry = ecr_registry(host)
    assert registry is not None
    assert (registry.account, registry.region, registry.partition, registry.public) == (
        account,
        region,
        partition,
        public,
    )


@pytest.mark.parametrize(
    "host",
    [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        "evil.example.123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
        "12345678901.dkr.ecr.us-east-1.amazonaws.com",
        "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
        "12345678901a.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.amazonaws.com",
        "123456789012.dkr.ecs.us-east-1.amazonaws.com",
        "123456789012.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.org",
        "123456789012.dkr.ecr.us_east_1.amazonaws.com",
        "123456789012.dkr.ecr.useast.amazonaws.com",
        "123456789012.dkr.ecr..amazonaws.com",
        "123456789012.dkr-ecr.us-east-1.amazonaws.evil",
        "public.ecr.aws.evil.example",
        "evil-public.ecr.aws",
        "ecr.aws",
        "amazonaws.com",
        "ghcr.io",
    ],
)
def test_not_ecr_hosts(host: str) -> None:
    assert ecr_registry(host) is None


def test_ecr_from_a_secret_with_a_path() -> None:
    key = docker_key("https://123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app")
    assert key is not None and ecr_registry(key) is not None
