"""doctor: rows, findings that name variables but never values, wiring, and --check logins."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from beds import registry as bed
from beds.aws import FakeECR, endpoint_env
from beds.client import configured, doctor, doctor_text, run_helper
from beds.environment import add_secret
from beds.values import CANARY, KEY_ID, aws_token, store_body


def test_findings_name_variables_never_values(env: dict[str, str]) -> None:
    env["ACR_CONTAINER_REGISTRY_SERVER"] = "myco.azurecr.io"
    env["ACR_CONTAINER_REGISTRY_USER"] = CANARY
    env["EMPTY_CONTAINER_REGISTRY_SERVER"] = "q.example"
    env["EMPTY_CONTAINER_REGISTRY_USER"] = CANARY
    env["EMPTY_CONTAINER_REGISTRY_PASSWORD"] = ""
    add_secret(env, "BAD", f"{CANARY}@evil.example", "u", CANARY)
    add_secret(env, "A", "ghcr.io", CANARY, CANARY)
    add_secret(env, "B", "https://ghcr.io/org", CANARY, CANARY)
    code, text = doctor_text(configured(env))
    assert code == 1
    assert "ACR_CONTAINER_REGISTRY_PASSWORD is not set" in text
    assert "EMPTY_CONTAINER_REGISTRY_PASSWORD is empty" in text
    assert "BAD_CONTAINER_REGISTRY_SERVER does not name a registry host" in text
    assert (
        "A_CONTAINER_REGISTRY_SERVER and B_CONTAINER_REGISTRY_SERVER both name ghcr.io; "
        "A_CONTAINER_REGISTRY_SERVER is used"
    ) in text
    assert "ghcr.io" in text and "secret A" in text


def test_ecr_token_expiry_and_cache_state(env: dict[str, str]) -> None:
    add_secret(
        env,
        "OLD",
        "111111111111.dkr.ecr.eu-west-1.amazonaws.com",
        "AWS",
        aws_token(time.time() - 10),
    )
    add_secret(
        env,
        "SOON",
        "222222222222.dkr.ecr.eu-west-1.amazonaws.com",
        "AWS",
        aws_token(time.time() + 600),
    )
    add_secret(env, "KEY", "333333333333.dkr.ecr.eu-west-1.amazonaws.com", KEY_ID, CANARY)
    with FakeECR({KEY_ID: CANARY}) as fake:
        env.update(endpoint_env(fake.endpoint_url))
        code, report = doctor(configured(env))
        rows = {row["registry"]: row for row in report["registries"]}
        key_row = rows["333333333333.dkr.ecr.eu-west-1.amazonaws.com"]
        assert key_row["kind"] == "ECR"
        assert key_row["state"].startswith("access key; no cached token")
        assert fake.count() == 0  # doctor without --check never calls AWS
        assert (
            run_helper(env, "get", stdin=b"333333333333.dkr.ecr.eu-west-1.amazonaws.com").returncode
            == 0
        )
        _, report = doctor(env)
    rows = {row["registry"]: row for row in report["registries"]}
    assert rows["333333333333.dkr.ecr.eu-west-1.amazonaws.com"]["state"].startswith(
        "access key; cached token expires at"
    )
    old = rows["111111111111.dkr.ecr.eu-west-1.amazonaws.com"]
    assert old["state"].startswith("token expired at")
    assert any(
        "OLD_CONTAINER_REGISTRY_PASSWORD holds an ECR token that expired" in p
        for p in old["problems"]
    )
    soon = rows["222222222222.dkr.ecr.eu-west-1.amazonaws.com"]
    assert any("expires within the hour" in p for p in soon["problems"])
    assert code == 1 and report["ok"] is False


def test_wiring_problems(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "u", CANARY)
    add_secret(env, "ACR", "myco.azurecr.io", "u", CANARY)
    _, text = doctor_text(env)
    assert (
        "docker will not ask this helper" in text
        and "run `docker-credential-codespaces configure`" in text
    )
    configured(env)
    config_file = Path(env["DOCKER_CONFIG"]) / "config.json"
    config = json.loads(config_file.read_text())
    config["credHelpers"]["myco.azurecr.io"] = "acr-env"
    del config["credHelpers"]["ghcr.io"]
    config_file.write_text(json.dumps(config))
    env["DOCKER_AUTH_CONFIG"] = "{}"
    env["PATH"] = "/usr/bin:/bin"
    code, text = doctor_text(env)
    assert code == 1
    assert "credHelpers in" in text and "sends myco.azurecr.io to docker-credential-acr-env" in text
    assert "ghcr.io: skopeo and podman will not ask this helper (they ignore credsStore)" in text
    assert "DOCKER_AUTH_CONFIG is set; docker uses it instead of any credential helper" in text
    assert "docker-credential-codespaces is not on PATH" in text


def test_all_well_exits_zero(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "u", CANARY)
    code, text = doctor_text(configured(env))
    assert code == 0 and "Nothing is wrong." in text
    code, report = doctor(env)
    assert code == 0
    assert report == {
        "registries": [
            {
                "registry": "ghcr.io",
                "source": "secret GH",
                "kind": "registry",
                "identity": None,
                "state": "ready",
                "check": None,
                "problems": [],
                "notes": [],
            }
        ],
        "problems": [],
        "notes": [],
        "ok": True,
    }


def test_codespace_token_row_notes_push(env: dict[str, str]) -> None:
    env.update(CODESPACES="true", GITHUB_TOKEN=CANARY)
    body = store_body("quay.io", "q", CANARY)
    assert run_helper(env, "store", stdin=body).returncode == 0
    _, report = doctor(configured(env))
    rows = {row["registry"]: row for row in report["registries"]}
    assert rows["ghcr.io"]["source"] == "Codespaces token"
    assert "write:packages" in rows["ghcr.io"]["notes"][0]
    assert rows["quay.io"]["source"] == "local store"


def test_no_secret_in_a_codespace_says_why_in_one_line(env: dict[str, str]) -> None:
    """In a codespace the helper is there for the secrets: none at all is a problem, with the
    two causes GitHub names, even when the codespace token and a stored login answer."""
    env.update(CODESPACES="true", GITHUB_TOKEN=CANARY)
    body = store_body("quay.io", "q", CANARY)
    assert run_helper(env, "store", stdin=body).returncode == 0
    code, text = doctor_text(configured(env))
    assert code == 1 and "Nothing is wrong." not in text
    (line,) = [line for line in text.splitlines() if "reached this codespace" in line]
    assert line.startswith("  - no registry secret (X_CONTAINER_REGISTRY_SERVER,")
    assert "must be assigned to this repository" in line
    assert "stopped and started" in line

    # One triple, even a broken one, arrived: the line is not said; the scan names the break.
    env["GH_CONTAINER_REGISTRY_SERVER"] = "ghcr.io"
    code, text = doctor_text(env)
    assert "reached this codespace" not in text
    assert "GH_CONTAINER_REGISTRY_USER is not set" in text


def test_no_secret_outside_a_codespace_says_how_to_set_them(env: dict[str, str]) -> None:
    code, report = doctor(configured(env))
    assert report is not None and report["registries"] == [] and report["problems"] == []
    (note,) = report["notes"]
    assert note.startswith("no registry secret is set: for each registry set")
    assert "DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE" in note
    code, text = doctor_text(env)
    assert code == 0
    assert text.startswith("no registry is known: no secret triple, no stored login\n")
    assert "Notes:\n  - no registry secret is set" in text


@pytest.mark.e2e
def test_check_against_the_distribution_registry(
    env: dict[str, str], registry: bed.RunningRegistry
) -> None:
    add_secret(env, "REG", registry.host, registry.user, registry.password)
    code, report = doctor(configured(env), "--check")
    assert (code, report["registries"][0]["check"]) == (0, "OK")
    add_secret(env, "REG", registry.host, registry.user, CANARY)
    code, text = doctor_text(env, "--check")
    assert code == 1 and "check: unauthorized" in text


@pytest.mark.e2e
def test_check_registry_down(env: dict[str, str]) -> None:
    with bed.start_registry("gone-user") as gone:
        host, user, password = gone.host, gone.user, gone.password
    add_secret(env, "REG", host, user, password)
    code, report = doctor(configured(env), "--check")
    assert code == 1 and report["registries"][0]["check"] == "unreachable"


@pytest.mark.parametrize(
    ("password", "token_status", "expected"),
    [
        ("right-password", 200, "OK"),
        ("wrong-password", 200, "unauthorized"),
        ("right-password", 403, "forbidden"),
    ],
)
def test_check_with_bearer_token_auth(
    env: dict[str, str], password: str, token_status: int, expected: str
) -> None:
    with bed.TokenRegistry("robot", "right-password", token_status=token_status) as registry:
        add_secret(env, "TOK", registry.host, "robot", password)
        code, report = doctor(configured(env), "--check")
    assert report["registries"][0]["check"] == expected
    assert code == (0 if expected == "OK" else 1)
    token_requests = [line for line, _ in registry.requests if line.startswith("GET /token")]
    assert token_requests and all("account=robot" in line for line in token_requests)


def test_checks_run_in_parallel_with_a_bound(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three registries that accept and never answer: all cut off at once at the timeout
    (half a second here, in process), not one after another."""
    from docker_credential_codespaces.doctor import report

    timeout = 1.0  # a second: the report itself takes time on a loaded machine
    sockets = []
    for index in range(3):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sockets.append(sock)
        triple: dict[str, str] = {}
        add_secret(triple, f"HANG{index}", f"127.0.0.1:{sock.getsockname()[1]}", "u", CANARY)
        for name, value in triple.items():
            monkeypatch.setenv(name, value)
    try:
        started = time.monotonic()
        result = report(check=True, timeout=timeout)
        elapsed = time.monotonic() - started
    finally:
        for sock in sockets:
            sock.close()
    assert result["ok"] is False
    rows = result["registries"]
    assert [row["check"] for row in rows] == ["unreachable"] * 3
    assert all(
        f"check failed: unreachable (no answer within {timeout:g} s)" in row["problems"]
        for row in rows
    )
    assert timeout <= elapsed < 2 * timeout, elapsed  # one after another would take 3 times
    assert CANARY not in json.dumps(result)


@pytest.mark.parametrize(
    "argv",
    [
        ["doctor", "--check", "--timeout", "inf"],
        ["doctor", "--check", "--timeout", "nan"],
        ["doctor", "--timeout", "0"],
        ["doctor", "--bogus"],
        ["configure", "--bogus"],
        ["unconfigure", "--registries"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_1(env: dict[str, str], argv: list[str]) -> None:
    """As every other error of the helper's: not argparse's usage text and exit 2."""
    result = run_helper(env, *argv, stdin=None)
    assert (result.returncode, result.stdout) == (1, b""), result
    assert result.stderr.count(b"\n") == 1 and result.stderr.endswith(b"(see --help)\n")
    assert result.stderr.startswith(f"docker-credential-codespaces {argv[0]}: ".encode())


def test_diagnosing_never_changes_the_disk(env: dict[str, str]) -> None:
    """doctor looks and never mends: the helper's own store and cache, found with loose
    modes, are left exactly as they are (a `get` still repairs them afterwards)."""
    body = store_body("r.example", "u", CANARY)
    assert run_helper(env, "store", stdin=body).returncode == 0
    ecr_host = "333333333333.dkr.ecr.eu-west-1.amazonaws.com"
    add_secret(env, "KEY", ecr_host, KEY_ID, CANARY)
    with FakeECR({KEY_ID: CANARY}) as fake:
        env.update(endpoint_env(fake.endpoint_url))
        assert run_helper(env, "get", stdin=ecr_host.encode()).returncode == 0
        own = [
            Path(env[base]) / "docker-credential-codespaces"
            for base in ("XDG_DATA_HOME", "XDG_CACHE_HOME")
        ]
        for directory in own:
            directory.chmod(0o755)
            for path in directory.iterdir():
                path.chmod(0o644)

        def disk() -> dict[str, tuple[int, int]]:
            return {
                str(path): (path.lstat().st_mode, path.lstat().st_mtime_ns)
                for directory in own
                for path in [directory, *directory.iterdir()]
            }

        before = disk()
        assert len(before) >= 4  # both directories, the store file, the cached token
        doctor_text(env)
        doctor(env)
        assert disk() == before
        for server in (ecr_host, "r.example"):  # the cache's reader, then the store's
            assert run_helper(env, "get", stdin=server.encode()).returncode == 0
        assert all(d.stat().st_mode & 0o077 == 0 for d in own)  # get does mend
