"""Proof that the AWS test bed behaves like the AWS endpoints it stands in for.

Every other ECR test trusts ``FakeECR``'s counts and errors, so the bed is checked here with
plain boto3 against it: if these pass, a failing helper test points at the helper.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import boto3
import botocore.credentials
import botocore.exceptions
import botocore.session
import botocore.tokens
import botocore.utils
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from beds.aws import (
    ECR_PUBLIC_TARGET_PREFIX,
    ECR_TARGET_PREFIX,
    EXPIRED_TOKEN_MESSAGE,
    JSON_CONTENT_TYPE,
    MOTO_ACCOUNT,
    SSO_BEARER_HEADER,
    SSO_CREDENTIALS_PATH,
    XML_CONTENT_TYPE,
    FakeECR,
    Role,
    decode_token,
    endpoint_env,
    moto_server,
    sso_cache_dir,
    sso_cache_file,
)

# the AWS bed's own tests, not the helper: on the main Python only (tests/run.sh)
pytestmark = pytest.mark.tooling

KEY = "AKIAFAKEKEY000000001"
SECRET = "fake/secret+key0000000000000000000000001"
OTHER_KEY = "AKIAFAKEKEY000000002"
OTHER_SECRET = "fake/secret+key0000000000000000000000002"


@pytest.fixture(autouse=True)
def _aws_env(use_env: dict[str, str]) -> None:
    """Keep the host's ~/.aws, env keys and the metadata service out of every test."""


@pytest.fixture
def ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeECR]:
    """A running fake with two keys, wired in through boto3's endpoint variables.

    STS and SSO are pointed at it too, so that no test can reach AWS by accident.
    """
    with FakeECR({KEY: SECRET, OTHER_KEY: OTHER_SECRET}) as fake:
        for name, value in endpoint_env(fake.endpoint_url, sts=True, sso=True).items():
            monkeypatch.setenv(name, value)
        yield fake
        assert fake.errors == []


ClientFactory = Callable[..., Any]


@pytest.fixture
def client(_aws_env: None) -> ClientFactory:
    """Build explicit-key clients like the helper does, from one shared boto3 session.

    Sharing the session only shares botocore's loaded service models (which makes a client
    cost milliseconds instead of ~0.1 s); the keys are still passed per client.  One attempt by
    default so failures surface immediately instead of after retry backoff.
    """
    session = boto3.Session()

    def make(
        service: str = "ecr",
        *,
        key: str = KEY,
        secret: str = SECRET,
        region: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        read_timeout: float = 5.0,
        attempts: int = 1,
        session_token: Optional[str] = None,
    ) -> Any:
        if region is None:
            region = "us-east-1" if service == "ecr-public" else "eu-west-1"
        config = Config(
            connect_timeout=2,
            read_timeout=read_timeout,
            retries={"total_max_attempts": attempts, "mode": "standard"},
        )
        return session.client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=session_token,
            config=config,
        )

    return make


def error_of(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_private_ecr_token_through_endpoint_env(client: ClientFactory, ecr: FakeECR) -> None:
    before = time.time()
    data = client("ecr").get_authorization_token()["authorizationData"]

    assert len(data) == 1
    user, password = decode_token(data[0]["authorizationToken"])
    assert user == "AWS"
    assert KEY in password
    assert data[0]["proxyEndpoint"] == "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    expires = data[0]["expiresAt"].timestamp()
    assert before + ecr.lifetime - 5 <= expires <= time.time() + ecr.lifetime + 5
    assert ecr.count() == 1
    assert ecr.count("ecr", KEY, ok=True) == 1
    (call,) = ecr.calls
    assert (call.service, call.signing_name, call.region, call.key_id) == (
        "ecr",
        "ecr",
        "eu-west-1",
        KEY,
    )
    assert call.target == f"{ECR_TARGET_PREFIX}.GetAuthorizationToken"
    assert call.token == data[0]["authorizationToken"]


def test_ecr_public_token_in_us_east_1(client: ClientFactory, ecr: FakeECR) -> None:
    data = client("ecr-public").get_authorization_token()["authorizationData"]

    assert isinstance(data, dict)
    assert set(data) == {"authorizationToken", "expiresAt"}
    assert decode_token(data["authorizationToken"])[0] == "AWS"
    assert ecr.count("ecr-public") == 1
    assert ecr.count("ecr") == 0
    (call,) = ecr.calls
    assert (call.signing_name, call.region) == ("ecr-public", "us-east-1")
    assert call.target == f"{ECR_PUBLIC_TARGET_PREFIX}.GetAuthorizationToken"


def test_ecr_public_outside_us_east_1_is_rejected(client: ClientFactory, ecr: FakeECR) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr-public", region="eu-west-1").get_authorization_token()
    assert error_of(excinfo) == ("InvalidSignatureException", 400)
    assert "scoped to a valid region" in str(excinfo.value)


def test_explicit_endpoint_url_and_registry_ids(client: ClientFactory, ecr: FakeECR) -> None:
    ecr_client = client("ecr", region="ap-south-1", endpoint_url=ecr.endpoint_url)
    data = ecr_client.get_authorization_token(registryIds=["111122223333", "444455556666"])

    endpoints = [entry["proxyEndpoint"] for entry in data["authorizationData"]]
    assert endpoints == [
        "https://111122223333.dkr.ecr.ap-south-1.amazonaws.com",
        "https://444455556666.dkr.ecr.ap-south-1.amazonaws.com",
    ]
    assert ecr.calls[0].body == {"registryIds": ["111122223333", "444455556666"]}


def test_tokens_differ_per_call_and_lifetime_is_settable(
    client: ClientFactory, ecr: FakeECR
) -> None:
    ecr.lifetime = 60
    first = client("ecr").get_authorization_token()["authorizationData"][0]
    second = client("ecr", key=OTHER_KEY, secret=OTHER_SECRET).get_authorization_token()
    second_data = second["authorizationData"][0]

    assert first["authorizationToken"] != second_data["authorizationToken"]
    assert abs(first["expiresAt"].timestamp() - (time.time() + 60)) < 5
    assert ecr.counts() == {("ecr", KEY): 1, ("ecr", OTHER_KEY): 1}

    ecr.expires_at = 1_000_000_000.0
    third = client("ecr").get_authorization_token()["authorizationData"][0]
    assert third["expiresAt"].timestamp() == 1_000_000_000.0


def test_wrong_secret_is_a_signature_error(client: ClientFactory, ecr: FakeECR) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", secret="not-the-secret").get_authorization_token()
    assert error_of(excinfo) == ("InvalidSignatureException", 400)
    assert "signature we calculated does not match" in str(excinfo.value)
    assert ecr.count(key_id=KEY, ok=False) == 1
    assert ecr.calls[0].error == "InvalidSignatureException"


def test_unknown_key_id_is_unrecognized(client: ClientFactory, ecr: FakeECR) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr-public", key="AKIAUNKNOWN000000000").get_authorization_token()
    assert error_of(excinfo) == ("UnrecognizedClientException", 400)
    assert ecr.count("ecr-public", "AKIAUNKNOWN000000000") == 1


def test_session_token_is_checked_when_pinned(client: ClientFactory, ecr: FakeECR) -> None:
    ecr.session_tokens[KEY] = "the-session-token"
    data = client("ecr", session_token="the-session-token").get_authorization_token()
    assert data["authorizationData"]
    assert ecr.calls[0].session_token == "the-session-token"

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", session_token="stale").get_authorization_token()
    assert error_of(excinfo) == ("UnrecognizedClientException", 400)


@pytest.mark.parametrize(
    ("mode", "code", "status", "fragment"),
    [
        ("throttle", "ThrottlingException", 400, "Rate exceeded"),
        ("denied", "AccessDeniedException", 400, "not authorized to perform: {service}:Get"),
        ("error500", "ServerException", 500, "internal error"),
    ],
)
@pytest.mark.parametrize("service", ["ecr", "ecr-public"])
def test_failure_modes(
    client: ClientFactory,
    ecr: FakeECR,
    service: str,
    mode: str,
    code: str,
    status: int,
    fragment: str,
) -> None:
    setattr(ecr, mode, True)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(service).get_authorization_token()
    assert error_of(excinfo) == (code, status)
    assert fragment.format(service=service) in str(excinfo.value)
    assert ecr.count(service, KEY, ok=False) == 1

    setattr(ecr, mode, False)
    assert client(service).get_authorization_token()["authorizationData"]
    assert ecr.count(service, ok=True) == 1


def test_signature_is_checked_before_failure_modes(client: ClientFactory, ecr: FakeECR) -> None:
    """A bad key must not be masked by throttling: AWS authenticates first."""
    ecr.throttle = True
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", secret="wrong").get_authorization_token()
    assert error_of(excinfo)[0] == "InvalidSignatureException"


def test_fail_next_then_recover_through_botocore_retry(client: ClientFactory, ecr: FakeECR) -> None:
    ecr.fail_next("error500")
    data = client("ecr", attempts=2).get_authorization_token()["authorizationData"]
    assert data
    assert [call.status for call in ecr.calls] == [500, 200]


def test_hang_is_cut_off_by_read_timeout_and_stop_is_prompt(
    client: ClientFactory, ecr: FakeECR
) -> None:
    ecr.hang = True
    started = time.monotonic()
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        client("ecr", read_timeout=0.3).get_authorization_token()
    assert time.monotonic() - started < 3
    # On a loaded machine the request can reach the server only after the client gave up.
    assert ecr.wait_for_calls(1)
    assert ecr.count() == 1
    assert ecr.calls[0].status is None

    # Leave a second request parked, then make sure stopping does not wait for it.
    outcome: list[BaseException] = []
    patient = client("ecr", read_timeout=10)

    def parked_call() -> None:
        try:
            patient.get_authorization_token()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=parked_call)
    thread.start()
    assert ecr.wait_for_calls(2)
    started = time.monotonic()
    ecr.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert not thread.is_alive()
    assert outcome
    assert isinstance(outcome[0], botocore.exceptions.ConnectionClosedError)


def test_release_hung_lets_parked_calls_finish(client: ClientFactory, ecr: FakeECR) -> None:
    ecr.hang = True
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(c.get_authorization_token()))
        for c in (client("ecr"), client("ecr-public"))
    ]
    for thread in threads:
        thread.start()
    assert ecr.wait_for_calls(2)
    assert results == []
    ecr.hang = False
    ecr.release_hung()
    for thread in threads:
        thread.join(timeout=5)
    assert len(results) == 2
    assert ecr.count(ok=True) == 2


def test_delay_and_concurrent_counting(client: ClientFactory, ecr: FakeECR) -> None:
    """Parallel calls overlap inside the delay, and none is lost from the count."""
    ecr.delay = 0.3
    # botocore clients are thread-safe; building them is not, so build them up front.
    clients = [client("ecr", key=key, secret=secret) for key, secret in [(KEY, SECRET)] * 6]
    clients += [client("ecr", key=OTHER_KEY, secret=OTHER_SECRET) for _ in range(2)]
    tokens: list[str] = []
    lock = threading.Lock()

    def one(ecr_client: Any) -> None:
        data = ecr_client.get_authorization_token()["authorizationData"][0]
        with lock:
            tokens.append(data["authorizationToken"])

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    elapsed = time.monotonic() - started

    assert 0.3 <= elapsed < 0.3 * len(clients)  # overlapped: serialised would take all of it
    assert len(set(tokens)) == len(tokens) == 8
    assert ecr.counts() == {("ecr", KEY): 6, ("ecr", OTHER_KEY): 2}


def test_raw_protocol_errors(ecr: FakeECR) -> None:
    """What boto3 never sends but a broken client might: no signature, stale date, bad target."""

    def post(headers: dict[str, str]) -> tuple[int, str, str]:
        port = int(ecr.endpoint_url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request(
                "POST", "/", body=b"{}", headers={"Content-Type": JSON_CONTENT_TYPE, **headers}
            )
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read().decode()
        finally:
            conn.close()

    target = {"X-Amz-Target": f"{ECR_TARGET_PREFIX}.GetAuthorizationToken"}
    status, content_type, body = post(target)
    assert (status, content_type) == (400, JSON_CONTENT_TYPE)
    assert "MissingAuthenticationTokenException" in body

    stale = datetime.now(timezone.utc) - timedelta(hours=1)
    amz_date = stale.strftime("%Y%m%dT%H%M%SZ")
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={KEY}/{amz_date[:8]}/eu-west-1/ecr/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
    )
    status, _, body = post({**target, "X-Amz-Date": amz_date, "Authorization": authorization})
    assert status == 400
    assert "Signature expired" in body

    status, _, body = post({"X-Amz-Target": f"{ECR_TARGET_PREFIX}.DeleteRepository"})
    assert (status, "UnknownOperationException" in body) == (400, True)
    assert ecr.count() == 3


def test_context_manager_always_stops() -> None:
    with pytest.raises(RuntimeError, match="boom"), FakeECR({KEY: SECRET}) as fake:
        url = fake.endpoint_url
        raise RuntimeError("boom")
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
    fake.stop()  # idempotent


def test_moto_server_answers_without_checking_keys(client: ClientFactory) -> None:
    with moto_server() as url:
        answers = [
            client("ecr", key=key, secret=secret, endpoint_url=url).get_authorization_token()
            for key, secret in ((KEY, SECRET), (KEY, "wrong"), ("anything", "at-all"))
        ]
    tokens = {answer["authorizationData"][0]["authorizationToken"] for answer in answers}
    assert len(tokens) == 1  # moto does not look at the keys at all
    data = answers[0]["authorizationData"][0]
    assert decode_token(data["authorizationToken"]) == ("AWS", f"{MOTO_ACCOUNT}-auth-token")
    assert data["expiresAt"].year == 2015  # already expired: useless for caching tests
    assert data["proxyEndpoint"] == f"https://{MOTO_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()


# -- STS AssumeRole --------------------------------------------------------------------------

ROLE_ARN = "arn:aws:iam::111122223333:role/Deploy"
CHAIN_ARN = "arn:aws:iam::444455556666:role/Chained"
TEMPORARY_KEY_RE = re.compile(r"^ASIA[A-Z0-9]{16}$")


@pytest.fixture
def roles(ecr: FakeECR) -> FakeECR:
    """The fake with a role KEY (and only KEY) may assume."""
    ecr.roles[ROLE_ARN] = Role(trusted={KEY})
    return ecr


def assume(
    client: ClientFactory,
    role_arn: str = ROLE_ARN,
    *,
    key: str = KEY,
    secret: str = SECRET,
    session_token: Optional[str] = None,
    attempts: int = 1,
    **params: Any,
) -> dict[str, Any]:
    sts = client("sts", key=key, secret=secret, session_token=session_token, attempts=attempts)
    response: dict[str, Any] = sts.assume_role(
        RoleArn=role_arn, RoleSessionName="bed-session", **params
    )
    return response


def sts_error(
    client: ClientFactory, role_arn: str = ROLE_ARN, **kwargs: Any
) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        assume(client, role_arn, **kwargs)
    error = excinfo.value.response["Error"]
    return (
        error["Code"],
        excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"],
        str(error.get("Message", "")),
    )


def test_assume_role_then_ecr_with_the_temporary_key(client: ClientFactory, roles: FakeECR) -> None:
    before = time.time()
    response = assume(client)
    credentials = response["Credentials"]

    assert TEMPORARY_KEY_RE.match(credentials["AccessKeyId"])
    assert credentials["SecretAccessKey"] and credentials["SessionToken"]
    expires = credentials["Expiration"].timestamp()
    assert before + 3600 - 5 <= expires <= time.time() + 3600 + 5
    assert response["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::111122223333:assumed-role/Deploy/bed-session"
    )
    assert response["AssumedRoleUser"]["AssumedRoleId"].endswith(":bed-session")
    (call,) = roles.calls
    assert (call.service, call.target, call.key_id, call.signing_name, call.region) == (
        "sts",
        "AssumeRole",
        KEY,
        "sts",
        "eu-west-1",
    )
    assert (call.role_arn, call.session_name, call.external_id) == (ROLE_ARN, "bed-session", None)
    assert call.issued_key_id == credentials["AccessKeyId"]
    assert call.ok and call.session_token is None

    temporary = {
        "key": credentials["AccessKeyId"],
        "secret": credentials["SecretAccessKey"],
    }
    data = client("ecr", **temporary, session_token=credentials["SessionToken"])
    assert data.get_authorization_token()["authorizationData"]
    assert roles.calls[-1].session_token == credentials["SessionToken"]

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", **temporary).get_authorization_token()
    assert error_of(excinfo) == ("UnrecognizedClientException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", **temporary, session_token="not-the-token").get_authorization_token()
    assert error_of(excinfo) == ("UnrecognizedClientException", 400)

    assert roles.count(service="sts") == 1
    assert roles.count(service="ecr") == 3
    assert roles.count(service="ecr", key_id=credentials["AccessKeyId"], ok=True) == 1
    assert roles.counts() == {("sts", KEY): 1, ("ecr", credentials["AccessKeyId"]): 3}


def test_each_assume_role_mints_new_credentials(client: ClientFactory, roles: FakeECR) -> None:
    first = assume(client)["Credentials"]
    second = assume(client, DurationSeconds=900)["Credentials"]
    assert first["AccessKeyId"] != second["AccessKeyId"]
    assert first["SessionToken"] != second["SessionToken"]
    assert roles.calls[1].duration_seconds == 900
    assert first["AccessKeyId"] in roles.keys and second["AccessKeyId"] in roles.session_tokens


def test_external_id_is_required_and_must_match(client: ClientFactory, roles: FakeECR) -> None:
    roles.roles[ROLE_ARN].external_id = "the-external-id"
    denied = f"is not authorized to perform: sts:AssumeRole on resource: {ROLE_ARN}"

    code, status, message = sts_error(client)
    assert (code, status) == ("AccessDenied", 403)
    assert denied in message
    code, status, message = sts_error(client, ExternalId="another-id")
    assert (code, status) == ("AccessDenied", 403)
    assert denied in message

    assert assume(client, ExternalId="the-external-id")["Credentials"]
    assert [call.external_id for call in roles.calls] == [None, "another-id", "the-external-id"]
    assert [call.error for call in roles.calls] == ["AccessDenied", "AccessDenied", None]


def test_untrusted_key_and_unknown_role_are_denied(client: ClientFactory, roles: FakeECR) -> None:
    code, status, message = sts_error(client, key=OTHER_KEY, secret=OTHER_SECRET)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith("User: arn:aws:iam::123456789012:user/ci is not authorized")

    unknown = "arn:aws:iam::111122223333:role/Nope"
    code, status, message = sts_error(client, unknown)
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith(f"on resource: {unknown}")
    assert roles.count(service="sts", ok=False) == 2
    assert roles.key_expires_at == {}  # nothing minted


def test_sts_checks_keys_and_signatures(client: ClientFactory, roles: FakeECR) -> None:
    code, status, message = sts_error(client, key="AKIAUNKNOWN000000000")
    assert (code, status, message) == (
        "InvalidClientTokenId",
        403,
        "The security token included in the request is invalid.",
    )
    code, status, message = sts_error(client, secret="not-the-secret")
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert "signature we calculated does not match" in message

    roles.throttle = True  # authentication comes first, as at AWS
    assert sts_error(client, secret="not-the-secret")[0] == "SignatureDoesNotMatch"


def test_chained_assume_role_needs_the_session_token(client: ClientFactory, roles: FakeECR) -> None:
    credentials = assume(client)["Credentials"]
    temporary = {"key": credentials["AccessKeyId"], "secret": credentials["SecretAccessKey"]}
    roles.roles[CHAIN_ARN] = Role(trusted={credentials["AccessKeyId"]}, lifetime=900)

    code, status, _ = sts_error(client, CHAIN_ARN, **temporary)
    assert (code, status) == ("InvalidClientTokenId", 403)
    code, status, _ = sts_error(client, CHAIN_ARN, **temporary, session_token="wrong")
    assert (code, status) == ("InvalidClientTokenId", 403)

    before = time.time()
    chained = assume(client, CHAIN_ARN, **temporary, session_token=credentials["SessionToken"])
    assert abs(chained["Credentials"]["Expiration"].timestamp() - (before + 900)) < 5
    assert chained["AssumedRoleUser"]["Arn"].startswith("arn:aws:sts::444455556666:")
    assert roles.calls[-1].session_token == credentials["SessionToken"]

    # A temporary caller that the role does not trust is named by its assumed-role ARN.
    code, status, message = sts_error(
        client, ROLE_ARN, **temporary, session_token=credentials["SessionToken"]
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        "User: arn:aws:sts::111122223333:assumed-role/Deploy/bed-session is not authorized"
    )


def test_expired_temporary_keys(client: ClientFactory, roles: FakeECR) -> None:
    roles.roles[ROLE_ARN].lifetime = -1  # hand out credentials that have already expired
    credentials = assume(client)["Credentials"]
    assert credentials["Expiration"].timestamp() < time.time()
    temporary = {
        "key": credentials["AccessKeyId"],
        "secret": credentials["SecretAccessKey"],
        "session_token": credentials["SessionToken"],
    }
    roles.roles[CHAIN_ARN] = Role(trusted={credentials["AccessKeyId"]})

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", **temporary).get_authorization_token()
    assert error_of(excinfo) == ("ExpiredTokenException", 400)
    assert EXPIRED_TOKEN_MESSAGE in str(excinfo.value)
    assert sts_error(client, CHAIN_ARN, **temporary) == ("ExpiredToken", 400, EXPIRED_TOKEN_MESSAGE)

    # A pre-made temporary key behaves the same, and works until it expires.
    now = datetime.now(timezone.utc)
    roles.add_temporary_key("ASIAPREMADE000000001", "premade-secret", "premade-token", now)
    premade = {"key": "ASIAPREMADE000000001", "secret": "premade-secret"}
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", **premade, session_token="premade-token").get_authorization_token()
    assert error_of(excinfo) == ("ExpiredTokenException", 400)

    roles.add_temporary_key(
        "ASIAPREMADE000000001", "premade-secret", "premade-token", time.time() + 60
    )
    ecr_client = client("ecr-public", **premade, session_token="premade-token")
    assert ecr_client.get_authorization_token()["authorizationData"]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", **premade).get_authorization_token()
    assert error_of(excinfo) == ("UnrecognizedClientException", 400)
    assert roles.count(service="ecr-public", ok=True) == 1


@pytest.mark.parametrize(
    ("mode", "code", "status", "fragment"),
    [
        ("throttle", "Throttling", 400, "Rate exceeded"),
        ("denied", "AccessDenied", 403, f"sts:AssumeRole on resource: {ROLE_ARN}"),
        ("error500", "InternalFailure", 500, "internal error"),
    ],
)
def test_sts_failure_modes(
    client: ClientFactory, roles: FakeECR, mode: str, code: str, status: int, fragment: str
) -> None:
    setattr(roles, mode, True)
    error = sts_error(client)
    assert error[:2] == (code, status)
    assert fragment in error[2]
    assert roles.count(service="sts", ok=False) == 1

    setattr(roles, mode, False)
    roles.fail_next(mode)
    if mode == "denied":  # botocore does not retry it
        assert sts_error(client)[:2] == (code, status)
        assert assume(client)["Credentials"]
    else:  # botocore retries throttling and server errors
        assert assume(client, attempts=2)["Credentials"]
    assert [call.status for call in roles.calls[1:]] == [status, 200]


def test_sts_hang_is_cut_off_by_read_timeout(client: ClientFactory, roles: FakeECR) -> None:
    roles.hang = True
    started = time.monotonic()
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        client("sts", read_timeout=0.3).assume_role(RoleArn=ROLE_ARN, RoleSessionName="hang")
    assert time.monotonic() - started < 3
    assert roles.calls[0].service == "sts"
    assert roles.calls[0].status is None
    roles.hang = False
    roles.release_hung()


def test_assume_role_profile_through_endpoint_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, roles: FakeECR
) -> None:
    """The way users configure it: a role profile with a source profile, resolved by boto3."""
    roles.roles[ROLE_ARN].external_id = "ext"
    config = tmp_path / "aws-config"
    config.write_text(
        f"[profile deploy]\nrole_arn = {ROLE_ARN}\nsource_profile = base\n"
        "external_id = ext\nrole_session_name = from-profile\nregion = eu-west-1\n\n"
        f"[profile base]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name, value in endpoint_env(roles.endpoint_url, sts=True).items():
        monkeypatch.setenv(name, value)

    session = boto3.Session(profile_name="deploy")
    ecr_client = session.client("ecr", config=Config(retries={"total_max_attempts": 1}))
    assert ecr_client.get_authorization_token()["authorizationData"]

    sts_call, ecr_call = roles.calls
    assert (sts_call.service, sts_call.key_id, sts_call.session_name) == (
        "sts",
        KEY,
        "from-profile",
    )
    assert sts_call.external_id == "ext"
    assert ecr_call.key_id == sts_call.issued_key_id
    assert ecr_call.session_token == roles.session_tokens[ecr_call.key_id]


def test_raw_sts_requests(ecr: FakeECR) -> None:
    """Unsigned and unknown query-protocol calls get STS-shaped XML errors."""
    port = int(ecr.endpoint_url.rsplit(":", 1)[1])

    def post(body: str) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request(
                "POST",
                "/",
                body=body.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            )
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read().decode()
        finally:
            conn.close()

    status, content_type, body = post(
        f"Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE_ARN}&RoleSessionName=s"
    )
    assert (status, content_type) == (403, XML_CONTENT_TYPE)
    assert "<Code>MissingAuthenticationToken</Code>" in body
    assert "<Type>Sender</Type>" in body
    status, _, body = post("Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 400
    assert "<Code>InvalidAction</Code>" in body
    assert [call.service for call in ecr.calls] == ["sts", "sts"]


# -- SSO ---------------------------------------------------------------------------------------

SSO_ACCOUNT = "210987654321"
SSO_ROLE = "Developer"
START_URL = "https://corp.awsapps.com/start"
LEGACY_START_URL = "https://legacy.awsapps.com/start"
SSO_CONFIG = f"""\
[profile modern]
sso_session = corp
sso_account_id = {SSO_ACCOUNT}
sso_role_name = {SSO_ROLE}
region = eu-west-1

[sso-session corp]
sso_start_url = {START_URL}
sso_region = eu-central-1
sso_registration_scopes = sso:account:access

[profile legacy]
sso_start_url = {LEGACY_START_URL}
sso_region = eu-central-1
sso_account_id = {SSO_ACCOUNT}
sso_role_name = {SSO_ROLE}
region = eu-west-1
"""
#: What each profile style hashes into the cache file name: (start URL, sso-session name).
SSO_STYLES = {"modern": (START_URL, "corp"), "legacy": (LEGACY_START_URL, None)}

#: Runs in a fresh interpreter, so botocore resolves ~/.aws/sso/cache under this test's HOME.
CHILD = """\
import json, sys
import botocore.exceptions, botocore.session
try:
    frozen = botocore.session.Session(profile=sys.argv[1]).get_credentials()
    frozen = frozen.get_frozen_credentials()
    print(json.dumps({"credentials": [frozen.access_key, frozen.secret_key, frozen.token]}))
except botocore.exceptions.BotoCoreError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


@pytest.fixture
def sso(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ecr: FakeECR) -> FakeECR:
    """The fake as SSO portal, with an AWS config holding both profile styles."""
    config = tmp_path / "aws-config"
    config.write_text(SSO_CONFIG, encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", ecr.endpoint_url)
    assert Path(os.environ["HOME"]).is_relative_to(tmp_path)
    return ecr


def child_credentials(profile: str) -> dict[str, Any]:
    """``Session(profile).get_credentials()`` in a new process with this test's environment."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, profile],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def write_token(style: str, token: str, expires_in: timedelta) -> Path:
    start_url, session_name = SSO_STYLES[style]
    return sso_cache_file(
        sso_cache_dir(Path(os.environ["HOME"])),
        start_url,
        session_name,
        token,
        datetime.now(timezone.utc) + expires_in,
        "eu-central-1",
    )


@pytest.mark.parametrize("style", sorted(SSO_STYLES))
def test_sso_profile_gets_credentials_from_the_portal(
    client: ClientFactory, sso: FakeECR, style: str
) -> None:
    sso.add_sso_token(f"bearer-{style}", SSO_ACCOUNT, SSO_ROLE, lifetime=1800)
    write_token(style, f"bearer-{style}", timedelta(hours=1))

    before = time.time()
    key, secret, token = child_credentials(style)["credentials"]

    assert TEMPORARY_KEY_RE.match(key)
    (call,) = sso.calls
    assert (call.service, call.target, call.status) == ("sso", "GetRoleCredentials", 200)
    assert (call.account_id, call.role_name, call.bearer_token) == (
        SSO_ACCOUNT,
        SSO_ROLE,
        f"bearer-{style}",
    )
    assert call.key_id is None  # unsigned, as the model's "authtype": "none" says
    assert call.issued_key_id == key
    assert call.expires_at is not None
    assert before + 1800 - 5 <= call.expires_at <= time.time() + 1800 + 5

    assert client("ecr", key=key, secret=secret, session_token=token).get_authorization_token()
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client("ecr", key=key, secret=secret).get_authorization_token()
    assert error_of(excinfo) == ("UnrecognizedClientException", 400)
    assert (sso.count(service="sso"), sso.count(service="ecr", ok=True)) == (1, 1)


@pytest.mark.parametrize(
    ("style", "state", "error", "fragment"),
    [
        ("modern", "missing", "SSOTokenLoadError", "Token for corp does not exist"),
        ("legacy", "missing", "SSOTokenLoadError", f"Token for {LEGACY_START_URL} does not"),
        ("modern", "expired", "TokenRetrievalError", "Token has expired and refresh failed"),
        ("legacy", "expired", "UnauthorizedSSOTokenError", "has expired or is otherwise invalid"),
        ("modern", "revoked", "UnauthorizedSSOTokenError", "has expired or is otherwise invalid"),
        ("legacy", "unknown", "UnauthorizedSSOTokenError", "has expired or is otherwise invalid"),
    ],
)
def test_sso_profile_without_a_usable_token_fails_in_botocore(
    sso: FakeECR, style: str, state: str, error: str, fragment: str
) -> None:
    """No cache file or an expired one never reaches the portal; a rejected token does (401)."""
    sso.add_sso_token("bearer", SSO_ACCOUNT, SSO_ROLE)
    if state == "expired":
        write_token(style, "bearer", -timedelta(minutes=1))
    elif state == "revoked":  # the cache says valid, the portal says no longer
        sso.add_sso_token("bearer", SSO_ACCOUNT, SSO_ROLE, token_expires_at=time.time() - 1)
        write_token(style, "bearer", timedelta(hours=1))
    elif state == "unknown":
        write_token(style, "never-issued", timedelta(hours=1))

    answer = child_credentials(style)

    assert answer["error"] == error
    assert fragment in answer["message"]
    rejected = state in ("revoked", "unknown")
    assert [call.status for call in sso.calls] == ([401] if rejected else [])


def test_sso_portal_wire_shape(client: ClientFactory, sso: FakeECR) -> None:
    """GetRoleCredentials through a plain unsigned client, and the raw 401 answer."""
    sso.add_sso_token("bearer", SSO_ACCOUNT, SSO_ROLE, lifetime=600)
    sso_client = boto3.Session().client(
        "sso",
        region_name="eu-central-1",
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )
    role = sso_client.get_role_credentials(
        roleName=SSO_ROLE, accountId=SSO_ACCOUNT, accessToken="bearer"
    )["roleCredentials"]
    assert isinstance(role["expiration"], int)  # epoch milliseconds
    assert abs(role["expiration"] / 1000 - (time.time() + 600)) < 5

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        sso_client.get_role_credentials(
            roleName="Admin", accountId=SSO_ACCOUNT, accessToken="bearer"
        )
    assert error_of(excinfo) == ("ForbiddenException", 403)
    with pytest.raises(sso_client.exceptions.UnauthorizedException) as unauthorized:
        sso_client.get_role_credentials(roleName=SSO_ROLE, accountId=SSO_ACCOUNT, accessToken="x")
    assert unauthorized.value.response["Error"]["Message"] == "Session token not found or invalid"

    port = int(sso.endpoint_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(
            "GET",
            f"{SSO_CREDENTIALS_PATH}?role_name={SSO_ROLE}&account_id={SSO_ACCOUNT}",
            headers={SSO_BEARER_HEADER: "stale"},
        )
        response = conn.getresponse()
        raw = (response.status, response.getheader("x-amzn-ErrorType"), response.read())
    finally:
        conn.close()
    assert raw == (
        401,
        "UnauthorizedException",
        b'{"message": "Session token not found or invalid"}',
    )

    sso.throttle = True
    with pytest.raises(sso_client.exceptions.TooManyRequestsException):
        sso_client.get_role_credentials(
            roleName=SSO_ROLE, accountId=SSO_ACCOUNT, accessToken="bearer"
        )
    assert sso.count(service="sso") == 5
    assert sso.count(service="sso", ok=True) == 1


@pytest.mark.parametrize("style", sorted(SSO_STYLES))
def test_sso_cache_file_is_what_botocore_loads(tmp_path: Path, style: str) -> None:
    start_url, session_name = SSO_STYLES[style]
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    path = sso_cache_file(tmp_path / "cache", start_url, session_name, "tok", expires, "eu-west-2")

    assert (
        path.name
        == hashlib.sha1((session_name or start_url).encode(), usedforsecurity=False).hexdigest()
        + ".json"
    )
    loader = botocore.utils.SSOTokenLoader(cache=botocore.utils.JSONFileCache(str(path.parent)))
    token = loader(start_url, session_name=session_name)
    assert token == {
        "accessToken": "tok",
        "expiresAt": "2030-01-02T01:04:05Z",
        "region": "eu-west-2",
        "startUrl": start_url,
    }
    assert path.stat().st_mode & 0o777 == 0o600


def test_botocore_fixes_the_sso_cache_directory_at_import(tmp_path: Path) -> None:
    """Why the SSO tests run botocore in a child: HOME set in-process comes too late."""
    for provider in (botocore.credentials.SSOProvider, botocore.tokens.SSOTokenProvider):
        directory = Path(provider._SSO_TOKEN_CACHE_DIR)
        assert not directory.is_relative_to(tmp_path)
        assert directory != sso_cache_dir(Path(os.environ["HOME"]))
