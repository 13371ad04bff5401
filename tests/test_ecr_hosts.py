"""ECR host parsing: which docker keys are ECR registries, as tables of good and bad names."""

from __future__ import annotations

import pytest

from docker_credential_codespaces.constants import (
    ECR_ENDPOINT_VARIABLES,
    ECR_PUBLIC_ENDPOINT_VARIABLES,
)
from docker_credential_codespaces.ecr import registry as ecr_registry
from docker_credential_codespaces.servers import docker_key

PRIVATE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


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


@pytest.mark.parametrize(
    ("host", "describe", "service", "fips"),
    [
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "ECR 123456789012 in us-east-1",
            "ecr",
            False,
        ),
        (
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
            "ECR 123456789012 in us-east-1",
            "ecr",
            True,
        ),
        ("123456789012.dkr-ecr.eu-west-1.on.aws", "ECR 123456789012 in eu-west-1", "ecr", False),
        (
            "123456789012.dkr-ecr-fips.us-west-2.on.aws",
            "ECR 123456789012 in us-west-2",
            "ecr",
            True,
        ),
        ("public.ecr.aws", "ECR Public", "ecr-public", False),
        ("ecr-public.aws.com", "ECR Public", "ecr-public", False),
    ],
)
def test_what_a_registry_tells_the_exchange_and_the_messages(
    host: str, describe: str, service: str, fips: bool
) -> None:
    """The host as given, how a line names it, the API that issues its tokens and whether
    through the FIPS endpoint: a FIPS host's token from the plain endpoint breaks its policy."""
    registry = ecr_registry(host)
    assert registry is not None
    assert (registry.host, registry.describe(), registry.service()) == (host, describe, service)
    assert registry.fips is fips


@pytest.mark.parametrize(
    ("host", "variables", "chosen"),
    [
        (PRIVATE, {}, ""),
        (PRIVATE, {"AWS_ENDPOINT_URL": "http://all"}, "AWS_ENDPOINT_URL"),
        (
            PRIVATE,
            {"AWS_ENDPOINT_URL_ECR": "http://ecr", "AWS_ENDPOINT_URL": "http://all"},
            "AWS_ENDPOINT_URL_ECR",
        ),
        # set but empty is not set, as botocore reads it
        (
            PRIVATE,
            {"AWS_ENDPOINT_URL_ECR": "", "AWS_ENDPOINT_URL": "http://all"},
            "AWS_ENDPOINT_URL",
        ),
        (PRIVATE, {"AWS_ENDPOINT_URL_ECR_PUBLIC": "http://public"}, ""),
        ("public.ecr.aws", {}, ""),
        ("public.ecr.aws", {"AWS_ENDPOINT_URL": "http://all"}, "AWS_ENDPOINT_URL"),
        (
            "public.ecr.aws",
            {"AWS_ENDPOINT_URL_ECR_PUBLIC": "http://public", "AWS_ENDPOINT_URL": "http://all"},
            "AWS_ENDPOINT_URL_ECR_PUBLIC",
        ),
        ("public.ecr.aws", {"AWS_ENDPOINT_URL_ECR": "http://ecr"}, ""),
    ],
)
def test_the_endpoint_each_registry_s_api_is_asked_at(
    host: str, variables: dict[str, str], chosen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The most specific variable set for the registry's own API wins; none set is AWS ("")."""
    for name in {*ECR_ENDPOINT_VARIABLES, *ECR_PUBLIC_ENDPOINT_VARIABLES}:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    registry = ecr_registry(host)
    assert registry is not None
    assert registry.endpoint_variable() == chosen
    assert registry.endpoint() == (variables[chosen] if chosen else "")


@pytest.mark.parametrize(
    ("region", "valid"),
    [
        ("us-east-1", True),
        ("us-gov-west-1", True),
        ("eusc-de-east-1", True),
        ("us-east-10", True),
        ("useast-1", False),  # two parts
        ("1us-east-1", False),  # the first part is not letters
        ("u1-east-1", False),
        ("us-east-x", False),  # the last part is not digits
        ("us-east-1x", False),
        ("us-ea_st-1", False),  # a middle part is not letters and digits
        ("us--1", False),  # an empty part
        ("-us-east-1", False),
    ],
)
def test_the_region_of_a_private_host(region: str, valid: bool) -> None:
    registry = ecr_registry(f"123456789012.dkr.ecr.{region}.amazonaws.com")
    assert (registry.region if registry is not None else None) == (region if valid else None)
