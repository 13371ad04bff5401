"""Start-up facts that can be tested deterministically, unlike timings (bench/bench.py).

Docker starts the helper for every registry it touches, so the hot paths must import nothing
they do not use. The installed executable is run with PYTHONPROFILEIMPORTTIME, which makes
the interpreter itself list every module it imports.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from aws_bed import FakeECR, endpoint_env
from support import HELPER, add_secret, run_helper

ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
# Modules a hot path must never import: boto3's stack, JSON parsing, regular expressions,
# platformdirs, subprocess, typing. Each costs milliseconds on every docker call.
HEAVY = ("boto3", "botocore", "json", "re", "platformdirs", "subprocess", "typing", "urllib")


def imported(env: dict[str, str], *args: str, stdin: bytes | None = b"") -> set[str]:
    """The modules the installed executable imports for one invocation."""
    result = subprocess.run(
        [str(HELPER), *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        timeout=60,
        check=False,
    )
    modules = set()
    for line in result.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert modules, result.stderr
    return modules


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_plain_secret_get_imports_nothing_heavy(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "u", "p")
    modules = imported(env, "get", stdin=b"ghcr.io")
    assert heavy(modules) == set()
    # A secret answers: the stores, files and paths are never loaded.
    assert "docker_credential_codespaces.store" not in modules
    assert "docker_credential_codespaces.fallback" not in modules


def test_not_found_get_imports_nothing_heavy(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "u", "p")
    assert heavy(imported(env, "get", stdin=b"https://index.docker.io/v1/")) == set()


def test_list_imports_nothing_heavy(env: dict[str, str]) -> None:
    for index in range(50):
        add_secret(env, f"R{index}", f"r{index}.example.com", "u", "p")
    assert heavy(imported(env, "list", stdin=None)) == set()


def test_cached_ecr_get_imports_nothing_heavy(env: dict[str, str]) -> None:
    with FakeECR({"AKIAIOSFODNN7EXAMPLE": "secret-key"}) as fake:
        env.update(endpoint_env(fake.endpoint_url))
        add_secret(env, "ECR", ECR_HOST, "AKIAIOSFODNN7EXAMPLE", "secret-key")
        assert run_helper(env, "get", stdin=ECR_HOST.encode()).returncode == 0
        assert heavy(imported(env, "get", stdin=ECR_HOST.encode())) == set()
        assert fake.count() == 1


def test_list_works_without_any_network(env: dict[str, str]) -> None:
    """In a network namespace with no interface up, list still answers: it never connects."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.decode().strip()}")
    add_secret(env, "ECR", ECR_HOST, "AKIAIOSFODNN7EXAMPLE", "secret-key")
    add_secret(env, "GH", "ghcr.io", "u", "p")
    env.update(CODESPACES="true", GITHUB_TOKEN="t")
    result = subprocess.run(
        ["unshare", "-n", str(HELPER), "list"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, b"")
    assert (
        result.stdout == b'{"123456789012.dkr.ecr.eu-west-1.amazonaws.com":"AWS","ghcr.io":"u"}\n'
    )
