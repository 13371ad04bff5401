"""Shared fixtures: an isolated environment per test, and the beds the tests share.

Every test runs the helper with its own HOME, DOCKER_CONFIG, XDG directories, secrets file,
store and cache, and with no secret or AWS variable inherited from the machine, so the host's
files and credentials never leak in and tests never see each other's state.

Each bed is a fixture here, once: FakeECR and the ECR environment on it. The values they use
are `beds.values`, which the tests import to check what came back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from beds.aws import FakeECR, endpoint_env
from beds.environment import add_secret, isolated_environ
from beds.values import AWS_KEYS, ECR_HOST, KEY_ID, SECRET_KEY, SESSION_TOKENS


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
