"""Shared fixtures: an isolated environment per test, and the beds the tests share.

Every test runs the helper with its own HOME, DOCKER_CONFIG, XDG directories, secrets file,
store and cache, and with no secret or AWS variable inherited from the machine, so the host's
files and credentials never leak in and tests never see each other's state.

Each bed is a fixture here, once: FakeECR and the ECR environment on it, the registries, the
docker daemon, the clients' sandbox. The values they use are `beds.values`, which the tests
import to check what came back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from beds import daemon as dockerd
from beds import registry as bed
from beds.aws import FakeECR, endpoint_env
from beds.environment import add_secret, isolated_environ
from beds.sandbox import Sandbox
from beds.values import (
    AWS_KEYS,
    ECR_HOST,
    KEY_ID,
    LOGIN_PASSWORD,
    LOGIN_USER,
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    SECRET_KEY,
    SESSION_TOKENS,
)
from docker_credential_codespaces.ecr.cache import TokenCache
from docker_credential_codespaces.files import PrivateDir


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private environment for one test, as a dict to pass to subprocesses."""
    return isolated_environ(tmp_path)


@pytest.fixture
def use_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The same private environment applied to this process, for in-process tests."""
    for name in list(os.environ):
        if name not in env:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def cache(use_env: dict[str, str], tmp_path: Path) -> TokenCache:
    """The real token cache, in a directory of this test's own, for the in-process tests of a
    registry's token (its seams are `beds.tokens`)."""
    return TokenCache(PrivateDir(str(tmp_path / "cache")))


@pytest.fixture
def fake() -> Iterator[FakeECR]:
    """FakeECR on a loopback port, knowing every key of `beds.values.AWS_KEYS`; it must
    have met no error of its own by the end of the test."""
    with FakeECR(AWS_KEYS, session_tokens=SESSION_TOKENS) as server:
        yield server
        assert server.errors == []


@pytest.fixture
def ecr_env(env: dict[str, str], fake: FakeECR) -> dict[str, str]:
    """`env` with an ECR secret (KEY_ID and SECRET_KEY for ECR_HOST, prefix ECR) and AWS
    reached at `fake`: `env` itself, changed."""
    env.update(endpoint_env(fake.endpoint_url))
    add_secret(env, "ECR", ECR_HOST, KEY_ID, SECRET_KEY)
    return env


@pytest.fixture(scope="module")
def registry() -> Iterator[bed.RunningRegistry]:
    """The module's registry: Debian's, on a loopback port over plain HTTP, htpasswd auth for
    REGISTRY_USER with the canary REGISTRY_PASSWORD, holding the tiny image (bed.TINY_IMAGE)."""
    missing = bed.tools_missing()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH; not found")
    with bed.start_registry(REGISTRY_USER, REGISTRY_PASSWORD) as running:
        bed.push_tiny_image(running)
        yield running


@pytest.fixture(scope="module")
def registries(registry: bed.RunningRegistry) -> Iterator[bed.Registries]:
    """The clients' registries for the module: `registry` for a secret, one for logins
    (LOGIN_USER, the canary LOGIN_PASSWORD) and one open to anyone, each with the tiny image."""
    with contextlib.ExitStack() as stack:
        login = stack.enter_context(bed.start_registry(LOGIN_USER, LOGIN_PASSWORD))
        anyone = stack.enter_context(bed.start_registry(anonymous=True))
        for running in (login, anyone):
            bed.push_tiny_image(running)
        yield bed.Registries(secret=registry, login=login, open=anyone)


@pytest.fixture(scope="module")
def daemon() -> Iterator[dockerd.RunningDaemon]:
    """The module's docker daemon (beds/daemon.py); no canary may reach its log."""
    reason = dockerd.unavailable()
    if reason is not None:
        pytest.skip(f"needs a docker daemon: {reason}")
    with dockerd.start_daemon() as running:
        yield running
        assert "CANARY" not in running.log()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """The clients' end-to-end sandbox (beds/sandbox.py) for one test."""
    box = Sandbox.create(tmp_path)
    try:
        yield box
    finally:
        box.close()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked `needs(tool, ...)` is skipped, naming them, where a tool is not on PATH."""
    for marker in item.iter_markers("needs"):
        missing = [tool for tool in marker.args if shutil.which(tool) is None]
        if missing:
            pytest.skip(f"needs {', '.join(missing)} on PATH; not found")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """In CI (CI=true) an end-to-end test may not skip: a missing tool there is a broken setup."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") and item.get_closest_marker("e2e"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"an end-to-end test may not skip in CI: {reason}"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files that hold slow or end-to-end tests first, each file's tests kept together.

    The test command spreads the main Python's suite over both cores a file at a time
    (pytest-xdist's loadfile): a file of minutes started last would run on alone while the
    other core idles, so the long files start first and the quick ones fill in around them.
    The order within a file, and so within a module's fixtures, is unchanged.
    """
    long_files = {
        item.path
        for item in items
        if item.get_closest_marker("slow") or item.get_closest_marker("e2e")
    }
    items.sort(key=lambda item: item.path not in long_files)
