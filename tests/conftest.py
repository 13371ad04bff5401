"""Shared fixtures: an isolated environment per test.

Every test runs the helper with its own HOME, DOCKER_CONFIG, XDG directories, secrets file,
store and cache, and with no secret or AWS variable inherited from the machine, so the host's
files and credentials never leak in and tests never see each other's state.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from beds.environment import isolated_environ


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
