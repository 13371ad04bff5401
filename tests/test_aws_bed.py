"""Proof that the AWS test bed behaves like the AWS endpoints it stands in for.

Every other ECR test trusts ``FakeECR``'s counts and errors, so the bed is checked here with
plain boto3 against it: if these pass, a failing helper test points at the helper.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from beds.aws import (
    ECR_PUBLIC_TARGET_PREFIX,
    ECR_TARGET_PREFIX,
    JSON_CONTENT_TYPE,
    MOTO_ACCOUNT,
    FakeECR,
    decode_token,
    endpoint_env,
    moto_server,
)

KEY = "AKIAFAKEKEY000000001"
SECRET = "fake/secret+key0000000000000000000000001"
OTHER_KEY = "AKIAFAKEKEY000000002"
OTHER_SECRET = "fake/secret+key0000000000000000000000002"


@pytest.fixture(autouse=True)
def _aws_env(use_env: dict[str, str]) -> None:
    """Keep the host's ~/.aws, env keys and the metadata service out of every test."""


@pytest.fixture
def ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeECR]:
    """A running fake with two keys, wired in through boto3's endpoint variables."""
    with FakeECR({KEY: SECRET, OTHER_KEY: OTHER_SECRET}) as fake:
        for name, value in endpoint_env(fake.endpoint_url).items():
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

    assert 0.3 <= elapsed < 0.3 * len(clients) / 2  # overlapped, not serialised
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
