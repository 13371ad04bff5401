"""Shared fixtures: an isolated environment per test.

Every test runs the helper with its own HOME, DOCKER_CONFIG, XDG directories, secrets file,
store and cache, and with no secret or AWS variable inherited from the machine, so the host's
files and credentials never leak in and tests never see each other's state.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import VENV_BIN, clean_environ


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private environment for one test, as a dict to pass to subprocesses."""
    home = tmp_path / "home"
    home.mkdir()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    values = clean_environ()
    values.update(
        HOME=str(home),
        DOCKER_CONFIG=str(home / ".docker"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_RUNTIME_DIR=str(runtime),
        DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE=str(tmp_path / "no-secrets-file"),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return values


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
