"""AWS identities beyond a static key, end to end through the executable: temporary keys,
role assumption, named profiles. Every failure is one line naming variables, never values,
and no secret of any kind reaches an output or a file."""

from __future__ import annotations

import http.server
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beds.aws import FakeECR, endpoint_env, moto_server
from beds.client import ecr_password as password
from beds.client import get, run_helper, spawn
from beds.clock import moto_clock
from beds.environment import add_secret
from beds.values import ECR_HOST as HOST
from beds.values import (
    KEY_ID,
    SECRET_KEY,
    SESSION_TOKEN,
    TEMP_KEY_ID,
    TEMP_SECRET,
    assert_no_canary,
)


@pytest.fixture
def aws_env(env: dict[str, str], fake: FakeECR) -> dict[str, str]:
    env.update(endpoint_env(fake.endpoint_url))
    env["AWS_ENDPOINT_URL"] = fake.endpoint_url
    env["AWS_ENDPOINT_URL_STS"] = fake.endpoint_url
    env["AWS_ENDPOINT_URL_SSO"] = fake.endpoint_url
    return env


def companion(env: dict[str, str], prefix: str, name: str, value: str) -> None:
    env[f"{prefix}_CONTAINER_REGISTRY_AWS_{name}"] = value


def assert_no_canary_anywhere(env: dict[str, str], *outputs: bytes) -> None:
    """Not in any output, and not in any file the helper wrote."""
    assert_no_canary(*outputs)
    for base in ("XDG_CACHE_HOME", "XDG_DATA_HOME"):
        for path in Path(env[base]).rglob("*"):
            if path.is_file():
                assert b"CANARY" not in path.read_bytes(), path


# --- temporary keys --------------------------------------------------------------------------


def test_temporary_key_sends_its_session_token(aws_env: dict[str, str], fake: FakeECR) -> None:
    add_secret(aws_env, "ECR", HOST, TEMP_KEY_ID, TEMP_SECRET)
    companion(aws_env, "ECR", "SESSION_TOKEN", SESSION_TOKEN)
    result = get(aws_env)
    assert password(result).startswith("fake-ecr-")
    [call] = fake.calls
    assert (call.key_id, call.session_token) == (TEMP_KEY_ID, SESSION_TOKEN)
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr)


def test_temporary_key_without_its_session_token_never_calls_aws(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    add_secret(aws_env, "ECR", HOST, TEMP_KEY_ID, TEMP_SECRET)
    result = get(aws_env)
    assert result.returncode == 1
    assert result.stdout == (
        b"ECR_CONTAINER_REGISTRY_USER holds a temporary AWS access key (ASIA...), which works "
        b"only with its session token; add it as ECR_CONTAINER_REGISTRY_AWS_SESSION_TOKEN\n"
    )
    assert fake.count() == 0
    report = json.loads(run_helper(aws_env, "doctor", "--json", stdin=None).stdout)
    [row] = report["registries"]
    assert row["identity"] == "temporary key" and row["problems"]
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr, json.dumps(report).encode())


def test_a_wrong_session_token_is_not_blamed_on_the_key_id(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    add_secret(aws_env, "ECR", HOST, TEMP_KEY_ID, TEMP_SECRET)
    companion(aws_env, "ECR", "SESSION_TOKEN", "CANARY-not-the-token")
    result = get(aws_env)
    assert result.returncode == 1 and result.stdout.count(b"\n") == 1
    assert result.stdout.endswith(
        b": AWS does not accept the key in ECR_CONTAINER_REGISTRY_USER with the session token in "
        b"ECR_CONTAINER_REGISTRY_AWS_SESSION_TOKEN; check that both come from the same session\n"
    )
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr)


def test_rotating_the_session_token_never_serves_the_old_token(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    add_secret(aws_env, "ECR", HOST, TEMP_KEY_ID, TEMP_SECRET)
    companion(aws_env, "ECR", "SESSION_TOKEN", SESSION_TOKEN)
    first = password(get(aws_env))
    fake.session_tokens[TEMP_KEY_ID] = SESSION_TOKEN + "-2"
    companion(aws_env, "ECR", "SESSION_TOKEN", SESSION_TOKEN + "-2")
    assert password(get(aws_env)) != first
    assert fake.count() == 2


# --- the environment's AWS_PROFILE never steers a key --------------------------------------


def test_a_missing_ambient_profile_does_not_break_a_key(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    """AWS_PROFILE set for other tools, naming a profile that is not there: the secret's own
    keys still exchange (it once failed every exchange with ProfileNotFound)."""
    add_secret(aws_env, "ECR", HOST, KEY_ID, SECRET_KEY)
    aws_env["AWS_PROFILE"] = "nowhere"
    assert password(get(aws_env)).startswith("fake-ecr-")


# --- named profiles --------------------------------------------------------------------------


def write_aws_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["AWS_CONFIG_FILE"])
    path.write_text(text)
    return path


def credential_process(tmp_path: Path, key_id: str, secret: str, token: str = "") -> Path:
    """A credential_process script, as a profile names one, printing these keys."""
    body = {"Version": 1, "AccessKeyId": key_id, "SecretAccessKey": secret}
    if token:
        body["SessionToken"] = token
    script = tmp_path / "credential-process"
    script.write_text(f"#!/bin/sh\necho '{json.dumps(body)}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def profile_secret(env: dict[str, str], prefix: str, profile: str, server: str = HOST) -> None:
    env[f"{prefix}_CONTAINER_REGISTRY_SERVER"] = server
    companion(env, prefix, "PROFILE", profile)


def test_profile_with_credential_process(
    aws_env: dict[str, str], fake: FakeECR, tmp_path: Path
) -> None:
    script = credential_process(tmp_path, KEY_ID, SECRET_KEY)
    write_aws_config(aws_env, f"[profile ci]\ncredential_process = {script}\n")
    profile_secret(aws_env, "ECR", "ci")
    result = get(aws_env)
    assert password(result).startswith("fake-ecr-")
    assert [c.key_id for c in fake.calls] == [KEY_ID]
    listed = run_helper(aws_env, "list", stdin=None)
    assert json.loads(listed.stdout) == {HOST: "AWS"}
    report = json.loads(run_helper(aws_env, "doctor", "--json", stdin=None).stdout)
    [row] = report["registries"]
    assert row["identity"] == "profile ci"
    assert not [p for p in row["problems"] if "AWS profile" in p]
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr, listed.stdout)


def test_a_missing_profile_is_one_line(aws_env: dict[str, str], fake: FakeECR) -> None:
    write_aws_config(aws_env, "[profile other]\nregion = eu-west-1\n")
    profile_secret(aws_env, "ECR", "ci")
    result = get(aws_env)
    assert result.returncode == 1
    assert result.stdout == (
        b"ECR_CONTAINER_REGISTRY_AWS_PROFILE names the AWS profile 'ci', which is not in your "
        b"AWS config files (~/.aws/config, or AWS_CONFIG_FILE); add it, or fix the name\n"
    )
    assert fake.count() == 0
    report = json.loads(run_helper(aws_env, "doctor", "--json", stdin=None).stdout)
    [row] = report["registries"]
    assert any("is not in your AWS config files" in p for p in row["problems"])


def test_a_failing_credential_process_is_one_line(
    aws_env: dict[str, str], fake: FakeECR, tmp_path: Path
) -> None:
    script = tmp_path / "broken"
    script.write_text("#!/bin/sh\necho CANARY-garbage >&2\nexit 3\n")
    script.chmod(0o755)
    write_aws_config(aws_env, f"[profile ci]\ncredential_process = {script}\n")
    profile_secret(aws_env, "ECR", "ci")
    result = get(aws_env)
    assert result.returncode == 1 and result.stdout.count(b"\n") == 1
    assert b"credential_process failed" in result.stdout
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr)


@pytest.mark.parametrize("kind", ["key", "profile"])
@pytest.mark.parametrize("broken", ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"])
def test_an_aws_file_that_does_not_parse_is_named(
    aws_env: dict[str, str], fake: FakeECR, tmp_path: Path, kind: str, broken: str
) -> None:
    """A config or credentials file botocore cannot parse (it reads both, for a key too) is
    what the line names: not a profile, least of all through AWS_PROFILE's variable when the
    triple has no profile."""
    script = credential_process(tmp_path, KEY_ID, SECRET_KEY)
    write_aws_config(aws_env, f"[profile ci]\ncredential_process = {script}\n")
    if kind == "key":
        add_secret(aws_env, "ECR", HOST, KEY_ID, SECRET_KEY)
    else:
        profile_secret(aws_env, "ECR", "ci")
    path = Path(aws_env[broken])
    path.write_text("[profile ci\nregion = eu-west-1\n")  # the section's bracket unclosed
    result = get(aws_env)
    assert result.returncode == 1
    assert (
        result.stdout
        == (
            "ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER): botocore cannot "
            f"parse {path}, an AWS file it reads for this exchange; fix its syntax\n"
        ).encode()
    )
    assert fake.count() == 0


def test_profile_and_key_together_are_passed_over_naming_both(aws_env: dict[str, str]) -> None:
    add_secret(aws_env, "ECR", HOST, KEY_ID, SECRET_KEY)
    companion(aws_env, "ECR", "PROFILE", "ci")
    result = get(aws_env)
    assert result.stdout == b"credentials not found in native keychain\n"
    report = json.loads(run_helper(aws_env, "doctor", "--json", stdin=None).stdout)
    assert any(
        p.startswith("ECR_CONTAINER_REGISTRY_AWS_PROFILE and ECR_CONTAINER_REGISTRY_USER")
        for p in report["problems"]
    )


def test_two_profiles_with_their_own_endpoints_get_their_own_tokens(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    """A profile's endpoint_url is part of the token's cache key: two profiles that differ only
    there never share a token."""
    with FakeECR({KEY_ID: SECRET_KEY}) as one, FakeECR({KEY_ID: SECRET_KEY}) as two:
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_ECR_PUBLIC"):
            aws_env.pop(name, None)
        script = credential_process(tmp_path, KEY_ID, SECRET_KEY)
        write_aws_config(
            aws_env,
            f"[profile a]\ncredential_process = {script}\nendpoint_url = {one.endpoint_url}\n"
            f"[profile b]\ncredential_process = {script}\nendpoint_url = {two.endpoint_url}\n",
        )
        profile_secret(aws_env, "ECR", "a")
        first = password(get(aws_env))
        companion(aws_env, "ECR", "PROFILE", "b")
        second = password(get(aws_env))
        assert first.startswith("fake-ecr-") and second.startswith("fake-ecr-")
        assert (one.count(), two.count()) == (1, 1)  # b's token came from b's endpoint


# --- moto, plainly ---------------------------------------------------------------------------


def test_role_through_moto(env: dict[str, str], tmp_path: Path) -> None:
    """moto's STS and ECR, end to end: a key assumes a role, the role's keys get a token."""
    with moto_server() as url:
        env.update(moto_clock(tmp_path).env())
        env["AWS_ENDPOINT_URL"] = url
        add_secret(env, "ECR", HOST, KEY_ID, SECRET_KEY)
        companion(env, "ECR", "ROLE_ARN", "arn:aws:iam::123456789012:role/puller")
        assert password(get(env)) == "123456789012-auth-token"


# --- FIPS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "endpoint"),
    [
        ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "https://ecr-fips.us-east-1."),
        ("123456789012.dkr-ecr-fips.us-west-2.on.aws", "https://ecr-fips.us-west-2."),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "https://api.ecr.us-east-1."),
    ],
)
def test_fips_hosts_ask_the_fips_endpoint(
    use_env: dict[str, str], host: str, endpoint: str
) -> None:
    """botocore's own endpoint resolution, with the Config the exchange builds (no request)."""
    from docker_credential_codespaces import ecr
    from docker_credential_codespaces.ecr import exchange

    registry = ecr.registry(host)
    assert registry is not None
    config = exchange.client_config(registry)
    client = exchange._session(lambda stage: None).create_client(
        "ecr",
        region_name=registry.region,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key="x",
        config=config,
    )
    assert client.meta.endpoint_url.startswith(endpoint)


def test_a_cached_profile_token_loads_no_botocore(
    aws_env: dict[str, str], fake: FakeECR, tmp_path: Path
) -> None:
    """The cache key of a profile identity (its files' stamps included) costs no import."""
    from beds.client import imported_modules

    script = credential_process(tmp_path, KEY_ID, SECRET_KEY)
    write_aws_config(aws_env, f"[profile ci]\ncredential_process = {script}\n")
    profile_secret(aws_env, "ECR", "ci")
    password(get(aws_env))
    modules = imported_modules(aws_env, "get", stdin=HOST.encode())
    assert not {m for m in modules if m.split(".")[0] in ("botocore", "boto3", "json", "re")}
    assert fake.count() == 1


# --- roles, against the signature-checking bed -------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/ecr-pull"


def role_secret(env: dict[str, str], external_id: str = "") -> None:
    add_secret(env, "ECR", HOST, KEY_ID, SECRET_KEY)
    companion(env, "ECR", "ROLE_ARN", ROLE_ARN)
    if external_id:
        companion(env, "ECR", "EXTERNAL_ID", external_id)


def test_role_assumed_and_its_keys_ask_for_the_token(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    """GetAuthorizationToken is signed with the role's temporary key and carries its token
    (the bed refuses it otherwise), and the token follows the role session's shorter life."""
    from beds.aws import Role

    fake.roles[ROLE_ARN] = Role(trusted={KEY_ID}, external_id="CANARY-ext-id", lifetime=1800)
    role_secret(aws_env, external_id="CANARY-ext-id")
    companion(aws_env, "ECR", "ROLE_SESSION_NAME", "ci-pull")
    result = get(aws_env)
    assert password(result).startswith("fake-ecr-"), result
    sts, ecr_call = fake.calls
    assert (sts.service, sts.key_id, sts.role_arn) == ("sts", KEY_ID, ROLE_ARN)
    assert (sts.external_id, sts.session_name, sts.region) == (
        "CANARY-ext-id",
        "ci-pull",
        "eu-west-1",
    )
    assert ecr_call.service == "ecr" and ecr_call.key_id == sts.issued_key_id
    assert ecr_call.session_token and ecr_call.key_id.startswith("ASIA")
    assert ecr_call.expires_at is not None and ecr_call.expires_at <= time.time() + 1800
    report = json.loads(run_helper(aws_env, "doctor", "--json", stdin=None).stdout)
    [row] = report["registries"]
    assert row["identity"] == f"role {ROLE_ARN}"
    assert "cached token expires at" in row["state"]
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr, json.dumps(report).encode())


def test_default_role_session_name(aws_env: dict[str, str], fake: FakeECR) -> None:
    from beds.aws import Role

    fake.roles[ROLE_ARN] = Role(trusted={KEY_ID})
    role_secret(aws_env)
    password(get(aws_env))
    assert fake.calls[0].session_name == "docker-credential-codespaces"


@pytest.mark.parametrize(
    ("trusted", "external_id", "expected"),
    [
        (
            set(),
            "",
            b"ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER): the key in "
            b"ECR_CONTAINER_REGISTRY_USER may not assume " + ROLE_ARN.encode() + b"; check the "
            b"role's trust policy\n",
        ),
        (
            {KEY_ID},
            "CANARY-wrong-ext",
            b"ECR 123456789012 in eu-west-1 (secret ECR_CONTAINER_REGISTRY_SERVER): the key in "
            b"ECR_CONTAINER_REGISTRY_USER may not assume " + ROLE_ARN.encode() + b" with the "
            b"external id in ECR_CONTAINER_REGISTRY_AWS_EXTERNAL_ID; check the role's trust "
            b"policy and its sts:ExternalId condition\n",
        ),
    ],
)
def test_a_refused_assume_role_is_one_line(
    aws_env: dict[str, str], fake: FakeECR, trusted: set[str], external_id: str, expected: bytes
) -> None:
    from beds.aws import Role

    fake.roles[ROLE_ARN] = Role(trusted=trusted, external_id="the-right-one")
    role_secret(aws_env, external_id=external_id)
    started = time.monotonic()
    result = get(aws_env)
    assert (result.returncode, result.stdout) == (1, expected)
    assert time.monotonic() - started < 20
    assert fake.count(service="ecr") == 0
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr)


def test_an_expired_session_token_is_named(aws_env: dict[str, str], fake: FakeECR) -> None:
    """A temporary key past its session, used directly and to assume a role."""
    from beds.aws import Role

    fake.add_temporary_key(
        "ASIAEXPIREDEXPIRED00", "CANARY-old", "CANARY-old-token", time.time() - 60
    )
    add_secret(aws_env, "ECR", HOST, "ASIAEXPIREDEXPIRED00", "CANARY-old")
    companion(aws_env, "ECR", "SESSION_TOKEN", "CANARY-old-token")
    direct = get(aws_env)
    assert direct.stdout.endswith(b": ECR_CONTAINER_REGISTRY_AWS_SESSION_TOKEN has expired\n")
    fake.roles[ROLE_ARN] = Role(trusted={"ASIAEXPIREDEXPIRED00"})
    companion(aws_env, "ECR", "ROLE_ARN", ROLE_ARN)
    chained = get(aws_env)
    assert chained.stdout.endswith(b": ECR_CONTAINER_REGISTRY_AWS_SESSION_TOKEN has expired\n")
    assert_no_canary_anywhere(aws_env, direct.stdout, direct.stderr, chained.stdout, chained.stderr)


def test_a_temporary_key_assumes_a_role_with_its_session_token(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    from beds.aws import Role

    fake.roles[ROLE_ARN] = Role(trusted={TEMP_KEY_ID})
    add_secret(aws_env, "ECR", HOST, TEMP_KEY_ID, TEMP_SECRET)
    companion(aws_env, "ECR", "SESSION_TOKEN", SESSION_TOKEN)
    companion(aws_env, "ECR", "ROLE_ARN", ROLE_ARN)
    password(get(aws_env))
    assert fake.calls[0].session_token == SESSION_TOKEN


def test_fifty_concurrent_cold_gets_assume_the_role_once(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    """Single flight covers the whole chain: one AssumeRole and one GetAuthorizationToken."""
    from beds.aws import Role

    fake.roles[ROLE_ARN] = Role(trusted={KEY_ID})
    fake.delay = 0.2
    role_secret(aws_env)
    processes = [spawn(aws_env, "get", HOST.encode()) for _ in range(50)]
    answers = set()
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        answers.add(json.loads(out)["Secret"])
    assert len(answers) == 1
    assert (fake.count(service="sts"), fake.count(service="ecr")) == (1, 1)


def test_a_role_through_a_profile_with_a_source_profile(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    from beds.aws import Role

    fake.roles[ROLE_ARN] = Role(trusted={KEY_ID})
    Path(aws_env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[base]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    write_aws_config(
        aws_env,
        f"[profile base]\nregion = eu-west-1\n"
        f"[profile puller]\nrole_arn = {ROLE_ARN}\nsource_profile = base\nregion = eu-west-1\n",
    )
    profile_secret(aws_env, "ECR", "puller")
    result = get(aws_env)
    assert password(result).startswith("fake-ecr-")
    assert [c.service for c in fake.calls] == ["sts", "ecr"]
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr)


# --- SSO --------------------------------------------------------------------------------------


def sso_profile(env: dict[str, str], fake: FakeECR, expires_in: float) -> None:
    from datetime import datetime, timedelta, timezone

    from beds.aws import sso_cache_dir, sso_cache_file

    write_aws_config(
        env,
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n"
        "sso_role_name = ECRPull\nregion = eu-west-1\n"
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.example/start\n"
        "sso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n",
    )
    fake.add_sso_token("CANARY-sso-access", "123456789012", "ECRPull")
    sso_cache_file(
        sso_cache_dir(Path(env["HOME"])),
        "https://corp.awsapps.example/start",
        "corp",
        "CANARY-sso-access",
        datetime.now(timezone.utc) + timedelta(seconds=expires_in),
        "eu-west-1",
    )
    profile_secret(env, "ECR", "dev")


def test_an_sso_profile_after_aws_sso_login(aws_env: dict[str, str], fake: FakeECR) -> None:
    sso_profile(aws_env, fake, expires_in=3600)
    result = get(aws_env)
    assert password(result).startswith("fake-ecr-")
    assert [c.service for c in fake.calls] == ["sso", "ecr"]
    report = json.loads(run_helper(aws_env, "doctor", "--json", stdin=None).stdout)
    [row] = report["registries"]
    assert row["identity"] == "profile dev"
    assert row["state"].startswith("profile dev (SSO login until ")
    assert not [p for p in row["problems"] if "SSO" in p]
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr, json.dumps(report).encode())


def test_an_expired_sso_session_says_what_to_run(aws_env: dict[str, str], fake: FakeECR) -> None:
    sso_profile(aws_env, fake, expires_in=-60)
    started = time.monotonic()
    result = get(aws_env)
    assert result.returncode == 1
    assert result.stdout == (
        b"the AWS profile 'dev' (ECR_CONTAINER_REGISTRY_AWS_PROFILE) has no valid SSO session; "
        b"run `aws sso login --profile dev`\n"
    )
    assert time.monotonic() - started < 20
    assert fake.count() == 0
    report = json.loads(run_helper(aws_env, "doctor", "--json", stdin=None).stdout)
    [row] = report["registries"]
    assert any("aws sso login --profile dev" in p for p in row["problems"])
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr, json.dumps(report).encode())


def test_no_metadata_endpoint_is_ever_asked(aws_env: dict[str, str], fake: FakeECR) -> None:
    """A profile with no credentials and the container endpoint set in the environment: one
    line, and nothing goes to the endpoint (it points at the bed, which records every call)."""
    write_aws_config(aws_env, "[profile bare]\nregion = eu-west-1\n")
    aws_env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = fake.endpoint_url + "/creds"
    aws_env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = fake.endpoint_url
    aws_env["AWS_EC2_METADATA_DISABLED"] = "false"
    profile_secret(aws_env, "ECR", "bare")
    result = get(aws_env)
    assert result.returncode == 1 and result.stdout.count(b"\n") == 1
    assert b"gives no credentials" in result.stdout
    assert fake.calls == []


# A key that signs only where it must never be used: known to the bed, so a request signed
# with it would verify and succeed.
CANARY_KEY_ID = "AKIACANARYKEY0000001"
CANARY_SECRET = "CANARY-elsewhere-secret"
BARE_PROFILE = "[profile ci]\nregion = eu-west-1\n"
ROLE_FROM_ENVIRONMENT = (
    f"[profile ci]\nregion = eu-west-1\nrole_arn = {ROLE_ARN}\ncredential_source = Environment\n"
)


@pytest.mark.parametrize(
    ("place", "profile"),
    [
        ("~/.boto", BARE_PROFILE),
        ("BOTO_CONFIG", BARE_PROFILE),
        ("AWS_CREDENTIAL_FILE", BARE_PROFILE),
        ("environment", BARE_PROFILE),
        ("environment", ROLE_FROM_ENVIRONMENT),
    ],
    ids=["~/.boto", "BOTO_CONFIG", "AWS_CREDENTIAL_FILE", "environment", "credential_source"],
)
def test_a_profile_never_signs_with_keys_from_elsewhere(
    aws_env: dict[str, str], fake: FakeECR, tmp_path: Path, place: str, profile: str
) -> None:
    """A profile without keys of its own resolves only from the AWS config and credentials
    files: a canary key in boto's files, in AWS_CREDENTIAL_FILE or in the environment (even
    for a role whose credential_source names it) never signs anything."""
    from beds.aws import Role

    fake.keys[CANARY_KEY_ID] = CANARY_SECRET
    fake.roles[ROLE_ARN] = Role(trusted={CANARY_KEY_ID})
    boto = f"[Credentials]\naws_access_key_id = {CANARY_KEY_ID}\n"
    boto += f"aws_secret_access_key = {CANARY_SECRET}\n"
    if place == "~/.boto":
        (Path(aws_env["HOME"]) / ".boto").write_text(boto)
    elif place == "BOTO_CONFIG":
        (tmp_path / "boto.cfg").write_text(boto)
        aws_env["BOTO_CONFIG"] = str(tmp_path / "boto.cfg")
    elif place == "AWS_CREDENTIAL_FILE":
        (tmp_path / "ec2-credentials").write_text(
            f"AWSAccessKeyId={CANARY_KEY_ID}\nAWSSecretKey={CANARY_SECRET}\n"
        )
        aws_env["AWS_CREDENTIAL_FILE"] = str(tmp_path / "ec2-credentials")
    else:
        aws_env["AWS_ACCESS_KEY_ID"] = CANARY_KEY_ID
        aws_env["AWS_SECRET_ACCESS_KEY"] = CANARY_SECRET
    write_aws_config(aws_env, profile)
    profile_secret(aws_env, "ECR", "ci")
    result = get(aws_env)
    assert result.returncode == 1 and result.stdout.count(b"\n") == 1, result.stdout
    assert fake.count(key_id=CANARY_KEY_ID) == 0 and fake.count() == 0
    if profile == BARE_PROFILE:
        assert b"gives no credentials" in result.stdout, result.stdout
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr)


@pytest.mark.parametrize("source", ["EcsContainer", "Ec2InstanceMetadata", "Environment"])
@pytest.mark.parametrize("through", ["", "base"])
def test_a_role_whose_keys_come_from_a_credential_source_is_told_so(
    aws_env: dict[str, str], fake: FakeECR, source: str, through: str
) -> None:
    """credential_source is refused on purpose, and the line says that (it once blamed a
    credential_process the profile does not have), on the profile or on a source profile."""
    if through:
        write_aws_config(
            aws_env,
            f"[profile ci]\nrole_arn = {ROLE_ARN}\nsource_profile = {through}\n"
            f"[profile {through}]\nrole_arn = {ROLE_ARN}\ncredential_source = {source}\n",
        )
    else:
        write_aws_config(
            aws_env, f"[profile ci]\nrole_arn = {ROLE_ARN}\ncredential_source = {source}\n"
        )
    profile_secret(aws_env, "ECR", "ci")
    result = get(aws_env)
    where = f" through its source profile '{through}'" if through else ""
    assert result.returncode == 1
    assert (
        result.stdout
        == (
            "the AWS profile 'ci' (ECR_CONTAINER_REGISTRY_AWS_PROFILE) takes its role's keys from "
            f"credential_source = {source}{where}, which this helper never uses (only the AWS "
            "config and credentials files); give the role a source_profile with keys, SSO or a "
            "credential_process instead\n"
        ).encode()
    )
    assert fake.count() == 0


def test_doctor_check_resolves_the_identity_and_says_the_get_line(
    aws_env: dict[str, str], fake: FakeECR
) -> None:
    sso_profile(aws_env, fake, expires_in=-60)
    result = run_helper(aws_env, "doctor", "--check", "--json", "--timeout", "5", stdin=None)
    [row] = json.loads(result.stdout)["registries"]
    assert row["check"] == "no credentials"
    assert any(
        p.startswith("check failed: the AWS profile 'dev'") and "aws sso login --profile dev" in p
        for p in row["problems"]
    )
    assert_no_canary_anywhere(aws_env, result.stdout, result.stderr)


# --- the process environment, in process ------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A container or instance metadata endpoint that notes every request and answers none."""

    def _any(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        self.send_response(404)
        self.end_headers()

    do_GET = do_PUT = do_POST = _any

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def metadata() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("profile", "served"),
    [
        (f"aws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET_KEY}\n", True),
        (f"role_arn = {ROLE_ARN}\ncredential_source = EcsContainer\n", False),
        (f"role_arn = {ROLE_ARN}\ncredential_source = Ec2InstanceMetadata\n", False),
    ],
    ids=["static keys", "role from the container", "role from the instance"],
)
def test_a_profile_leaves_the_environment_as_it_found_it(
    use_env: dict[str, str],
    fake: FakeECR,
    metadata: http.server.ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    profile: str,
    served: bool,
) -> None:
    """The exchange, in process, with the container and instance endpoints set in the
    environment: while the profile resolves they are never asked (a role naming them as its
    credential_source fails in one line), and afterwards os.environ is as it was."""
    from docker_credential_codespaces import ecr
    from docker_credential_codespaces.constants import SECRET_AWS_PROFILE
    from docker_credential_codespaces.ecr.exchange import exchange
    from docker_credential_codespaces.wire import HelperError

    endpoint = f"http://127.0.0.1:{metadata.server_address[1]}"
    for name, value in {
        **endpoint_env(fake.endpoint_url),
        "AWS_ENDPOINT_URL_STS": fake.endpoint_url,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint + "/creds",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint,
        "AWS_EC2_METADATA_DISABLED": "false",
    }.items():
        monkeypatch.setenv(name, value)
    write_aws_config(use_env, f"[profile ci]\nregion = eu-west-1\n{profile}")
    registry = ecr.registry(HOST)
    identity = ecr.identity(
        "ECR", "", "", registry, lambda suffix: "ci" if suffix == SECRET_AWS_PROFILE else ""
    )
    assert registry is not None and identity is not None and identity.kind == ecr.PROFILE
    before = dict(os.environ)
    if served:
        assert exchange(registry, identity, 10).password.startswith("fake-ecr-")
    else:
        with pytest.raises(HelperError, match="ECR_CONTAINER_REGISTRY_AWS_PROFILE"):
            exchange(registry, identity, 10)
        assert fake.calls == []
    assert metadata.requests == []  # type: ignore[attr-defined]
    assert dict(os.environ) == before
