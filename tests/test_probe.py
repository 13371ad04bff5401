"""doctor --check: where the password may travel, and the time limit of the whole check.

Every registry here is the test's own on 127.0.0.1 (beds.registry.TokenRegistry); names that
are not loopback are sent through a loopback proxy (beds.proxy) that tunnels only to those
servers, so nothing is ever looked up or reached off the machine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from beds.client import doctor, run_helper
from beds.environment import add_secret
from beds.proxy import LoopbackProxy
from beds.registry import TokenRegistry
from beds.values import CANARY
from docker_credential_codespaces import probe

USER = "robot"


def rows(report: dict) -> dict[str, dict]:
    return {row["registry"]: row for row in report["registries"]}


def through(env: dict[str, str], proxy: LoopbackProxy) -> dict[str, str]:
    """The environment with every proxy variable naming the bed, and no NO_PROXY at all."""
    for name in ("NO_PROXY", "no_proxy"):
        env.pop(name, None)
    env.update(proxy.environment())
    return env


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("https://localhost/", True),
        ("https://localhost:5000/v2/", True),
        ("http://127.0.0.1:5000/", True),
        ("https://127.255.255.254/", True),
        ("https://[::1]:5000/", True),
        ("https://[0:0:0:0:0:0:0:1]/", True),
        ("https://localhost-registry.corp.example/", False),
        ("https://localhost.corp.example/", False),
        ("https://127.0.0.1.corp.example:5000/", False),
        ("https://127.corp.example/", False),
        ("https://128.0.0.1/", False),
        ("https://127.1/", False),
        ("https://[::2]/", False),
        ("https://[::ffff:127.0.0.1]/", False),
        ("https://0.0.0.0/", False),
        ("https://[::1/", False),
        ("not a url", False),
    ],
)
def test_loopback_is_this_machine_for_certain(url: str, loopback: bool) -> None:
    assert probe.is_loopback(url) is loopback


def test_plain_http_never_for_names_that_only_start_like_loopback(env: dict[str, str]) -> None:
    """Once HTTPS failed, these got the Basic password over plain HTTP (a prefix match)."""
    hosts = ["localhost-registry.corp.example", "127.0.0.1.corp.example:5000"]
    for index, host in enumerate(hosts):
        add_secret(env, f"LOOK{index}", host, USER, CANARY)
    with LoopbackProxy() as proxy:
        code, report = doctor(through(env, proxy), "--check", "--timeout", "5")
    assert code == 1
    assert {row["check"] for row in report["registries"]} == {"unreachable"}
    heads = [request.split(b" ", 2)[:2] for request in proxy.received]
    # HTTPS was tried through the proxy, as docker would; plain HTTP never.
    assert sorted(heads) == sorted(
        [b"CONNECT", (host if ":" in host else host + ":443").encode()] for host in hosts
    )
    assert not any(CANARY.encode() in request for request in proxy.received)


def test_a_loopback_check_never_goes_through_the_proxy(env: dict[str, str]) -> None:
    """docker goes to localhost directly; the proxy once got the password and said OK."""
    with LoopbackProxy() as proxy, TokenRegistry(USER, CANARY) as registry:
        add_secret(env, "LOCAL", registry.host, USER, CANARY)
        add_secret(env, "NAMED", f"localhost:{registry.port}", USER, CANARY)
        code, report = doctor(through(env, proxy), "--check")
    checks = {key: row["check"] for key, row in rows(report).items()}
    assert checks == {registry.host: "OK", f"localhost:{registry.port}": "OK"}
    assert proxy.received == []
    assert code == 1  # nothing is configured: the wiring problems remain


def test_a_registry_that_drips_its_headers_ends_within_the_timeout(env: dict[str, str]) -> None:
    """TLS completes, then a byte a second: no socket timeout ever expires; --timeout does (its
    least, 1 s), and the process exits with the check still running."""
    with TokenRegistry(USER, CANARY, tls_name="127.0.0.1", drip=1.0) as registry:
        assert registry.ca_cert is not None
        env["SSL_CERT_FILE"] = str(registry.ca_cert)
        add_secret(env, "DRIP", registry.host, USER, CANARY)
        started = time.monotonic()
        code, report = doctor(env, "--check", "--timeout", "1")
        elapsed = time.monotonic() - started
        assert registry.requests, "the check never reached the dripping registry"
    assert elapsed < 8, elapsed  # a generous bound: the drip alone lasts 30 s
    row = rows(report)[registry.host]
    assert code == 1 and row["check"] == "unreachable"
    assert "check failed: unreachable (no answer within 1 s)" in row["problems"]


def test_dockers_sign_in_records_are_never_probed(env: dict[str, str]) -> None:
    """Docker Hub's OAuth keys were probed as a host named `https`."""
    for key in (
        "https://index.docker.io/v1/access-token",
        "https://index.docker.io/v1/refresh-token",
    ):
        body = json.dumps({"ServerURL": key, "Username": "octo", "Secret": CANARY}).encode()
        assert run_helper(env, "store", stdin=body).returncode == 0
    assert run_helper(env, "configure").returncode == 0
    with LoopbackProxy() as proxy:
        code, report = doctor(through(env, proxy), "--check")
    assert proxy.received == []
    for row in report["registries"]:
        assert row["kind"] == "Docker Hub sign-in" and row["check"] is None
        assert row["problems"] == [] and "never checked" in row["notes"][0]
    assert len(report["registries"]) == 2 and code == 0


def ghcr(env: dict[str, str], registry: TokenRegistry, proxy: LoopbackProxy) -> dict:
    """doctor --check with ghcr.io served by `registry` through `proxy`; ghcr.io's row."""
    assert registry.ca_cert is not None
    env["SSL_CERT_FILE"] = str(registry.ca_cert)
    proxy.tunnels["ghcr.io:443"] = ("127.0.0.1", registry.port)
    _, report = doctor(through(env, proxy), "--check")
    return rows(report)["ghcr.io"]


@pytest.mark.parametrize(
    ("source", "password", "token_status", "check", "hint"),
    [
        ("codespace", CANARY, 403, "forbidden", "GITHUB_TOKEN"),
        ("secret", CANARY, 403, "forbidden", "GH_CONTAINER_REGISTRY_PASSWORD"),
        ("codespace", CANARY + "-wrong", 200, "unauthorized", None),
        ("codespace", CANARY, 200, "OK", None),
    ],
)
def test_ghcr_403_points_to_the_packages_sharing(
    env: dict[str, str],
    source: str,
    password: str,
    token_status: int,
    check: str,
    hint: str | None,
) -> None:
    """403 from ghcr.io is a good token for a package not shared with the repository; 401 is
    a bad token, and gets no such hint."""
    if source == "codespace":
        env.update(CODESPACES="true", GITHUB_TOKEN=password, GITHUB_USER=USER)
    else:
        add_secret(env, "GH", "ghcr.io", USER, password)
    with (
        TokenRegistry(
            USER, CANARY, tls_name="ghcr.io", realm_host="ghcr.io", token_status=token_status
        ) as registry,
        LoopbackProxy() as proxy,
    ):
        row = ghcr(env, registry, proxy)
    assert row["check"] == check
    sharing = [note for note in row["notes"] if "Manage Codespaces access" in note]
    if hint is None:
        assert sharing == []
    else:
        assert len(sharing) == 1 and hint in sharing[0]
        assert '"packages": "read"' in sharing[0]
        assert "customizations.codespaces.repositories" in sharing[0]
    # The realm is on ghcr.io itself: the password went to nothing but the tunnel.
    assert all(r.startswith(b"CONNECT ghcr.io:443 ") for r in proxy.received)


def test_the_bearer_realm_on_another_host_gets_the_password(
    env: dict[str, str], tmp_path: Path
) -> None:
    """As docker's login: the token service named by the challenge is given Basic auth,
    wherever it is. This is kept on purpose (docs/how-it-works.md says so, under doctor)."""
    with (
        TokenRegistry(USER, CANARY) as token_service,
        TokenRegistry(USER, CANARY, realm_host=token_service.host) as registry,
    ):
        add_secret(env, "REG", registry.host, USER, CANARY)
        doctor(env, "--check")
    assert any(line.startswith("GET /token") for line, _ in token_service.requests)
