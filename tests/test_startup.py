"""Start-up facts that can be tested deterministically, unlike timings (python -m bench).

Docker starts the helper for every registry it touches, so the hot paths must import nothing
they do not use. The installed executable is run by its own interpreter and options plus
`-X importtime`, which makes the interpreter itself list every module it imports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from beds.aws import FakeECR
from beds.client import (
    HELPER,
    imported_modules,
    interpreter_command,
    run_helper,
    wait_for_refreshers,
)
from beds.clock import FakeClock
from beds.environment import add_secret
from beds.values import ECR_HOST, KEY_ID

# Modules a hot path must never import: site (the wrapper skips it), boto3's stack, JSON parsing, regular expressions,
# platformdirs, subprocess, typing. Each costs milliseconds on every docker call.
HEAVY = (
    "site",
    "boto3",
    "botocore",
    "json",
    "re",
    "platformdirs",
    "subprocess",
    "typing",
    "urllib",
)


def imported(env: dict[str, str], *args: str, stdin: bytes | None = b"") -> set[str]:
    """The modules the installed executable imports for one invocation."""
    return imported_modules(env, *args, stdin=stdin)


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_plain_secret_get_imports_nothing_heavy(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "u", "p")
    modules = imported(env, "get", stdin=b"ghcr.io")
    assert heavy(modules) == set()
    # A secret answers: the stores, files and paths are never loaded.
    assert "docker_credential_codespaces.store" not in modules
    assert "docker_credential_codespaces.fallback" not in modules


def test_plain_secret_get_loads_exactly_these_modules_of_the_package(env: dict[str, str]) -> None:
    """Each module costs start-up time: what a plain `get` needs is named here, so a change
    that adds one to docker's hottest path says so in this test."""
    add_secret(env, "GH", "ghcr.io", "u", "p")
    modules = imported(env, "get", stdin=b"ghcr.io")
    package = "docker_credential_codespaces"
    assert {m for m in modules if m.startswith(package)} == {
        package,
        *(
            f"{package}.{name}"
            for name in ("cli", "wire", "constants", "chain", "log", "servers", "secrets", "ecr")
        ),
    }


def test_plain_secret_get_in_a_codespace_imports_nothing_more(
    env: dict[str, str], tmp_path: Path
) -> None:
    """In a codespace the secrets file is there on every `get`: reading it loads no module of
    the helper's, only the C decoder of its base64."""
    secrets = tmp_path / "env-secrets"
    secrets.write_text("OTHER_CONTAINER_REGISTRY_SERVER=cS5leGFtcGxl\n")
    add_secret(env, "GH", "ghcr.io", "u", "p")
    outside = imported(env, "get", stdin=b"ghcr.io")  # the fixture's file does not exist
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    assert imported(env, "get", stdin=b"ghcr.io") - outside == {"binascii"}


def test_not_found_get_imports_nothing_heavy(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "u", "p")
    assert heavy(imported(env, "get", stdin=b"https://index.docker.io/v1/")) == set()


def test_list_imports_nothing_heavy(env: dict[str, str]) -> None:
    for index in range(50):
        add_secret(env, f"R{index}", f"r{index}.example.com", "u", "p")
    assert heavy(imported(env, "list", stdin=None)) == set()


def test_cached_ecr_get_imports_nothing_heavy(ecr_env: dict[str, str], fake: FakeECR) -> None:
    assert run_helper(ecr_env, "get", stdin=ECR_HOST.encode()).returncode == 0
    assert heavy(imported(ecr_env, "get", stdin=ECR_HOST.encode())) == set()
    assert fake.count() == 1


def test_a_due_ecr_get_starts_its_refresher_without_heavy_imports(
    ecr_env: dict[str, str], fake: FakeECR, tmp_path: Path
) -> None:
    """A token past its refresh point is answered at once; starting the refresher behind it
    costs the pull a fork and no module of the package beyond a cached get's (the refresher
    lives in ecr.answer, with the token it refreshes), never botocore or subprocess: the
    refresher, forked, imports what the exchange needs after the answer is out."""
    clock = FakeClock(tmp_path)
    fake.clock = clock.now
    ecr_env.update(clock.env())
    assert run_helper(ecr_env, "get", stdin=ECR_HOST.encode()).returncode == 0
    cached = imported(ecr_env, "get", stdin=ECR_HOST.encode())
    clock.advance(7 * 3600)  # past half the token's life
    due = imported(ecr_env, "get", stdin=ECR_HOST.encode())
    wait_for_refreshers(ecr_env)
    assert fake.count() == 2  # the refresher did fetch
    assert heavy(due) == set()
    ours = "docker_credential_codespaces."
    extra = {m for m in due - cached if m.startswith(ours)}
    assert extra == set()


# Beyond what the interpreter itself loads, the hot paths may import these and nothing else:
# os and stat, which the secrets scan needs (and `site`, which the wrapper skips, would load).
HOT_EXTRA = {"__future__", "_collections_abc", "_stat", "genericpath", "os", "posixpath", "stat"}


def interpreter_floor(env: dict[str, str]) -> set[str]:
    """What `python -I -S -c pass` imports: the part of every run the helper cannot change."""
    argv = [*interpreter_command(), "-X", "importtime", "-c", "pass"]
    result = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=True)
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.decode().splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize(
    ("verb", "stdin", "extra"),
    [
        ("get", b"ghcr.io", set()),
        ("get", b"nowhere.example", {"errno", "fcntl", "time"}),
        ("list", None, {"errno", "fcntl", "time"}),
    ],
)
def test_hot_paths_import_only_the_package_and_a_fixed_few(
    env: dict[str, str], verb: str, stdin: bytes | None, extra: set[str]
) -> None:
    """A fact, not a timing: the modules a hot path loads outside the package are named here,
    so a change that adds one (typing, json, re...) fails this test before the bench sees it."""
    add_secret(env, "GH", "ghcr.io", "u", "p")
    modules = imported(env, verb, stdin=stdin)
    outside = {m for m in modules if not m.startswith("docker_credential_codespaces")}
    assert outside - interpreter_floor(env) <= HOT_EXTRA | extra


def test_list_works_without_any_network(env: dict[str, str]) -> None:
    """In a network namespace with no interface up, list still answers: it never connects."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.decode().strip()}")
    add_secret(env, "ECR", ECR_HOST, KEY_ID, "secret-key")
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


# --- the wrapper the launcher writes (tests/run.sh writes it as install.sh does) -------------


def test_the_executable_starts_python_isolated_and_without_site() -> None:
    assert interpreter_command()[1:] == ["-IS"]


def test_python_variables_cannot_reach_the_helper(env: dict[str, str], tmp_path: Path) -> None:
    """A project's PYTHONPATH in the codespace must not shadow the helper or the stdlib."""
    shadow = tmp_path / "shadow"
    for module in ("docker_credential_codespaces/__init__.py", "json.py", "base64.py"):
        (shadow / module).parent.mkdir(parents=True, exist_ok=True)
        (shadow / module).write_text("raise SystemExit('shadowed')\n")
    startup = tmp_path / "startup.py"
    startup.write_text("raise SystemExit('startup ran')\n")
    env.update(PYTHONPATH=str(shadow), PYTHONSTARTUP=str(startup), PYTHONINSPECT="1")
    add_secret(env, "GH", "ghcr.io", "u", "p")
    result = run_helper(env, "get", stdin=b"ghcr.io")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == b'{"ServerURL":"ghcr.io","Username":"u","Secret":"p"}\n'


def test_a_large_answer_is_whole_though_the_teardown_is_skipped(env: dict[str, str]) -> None:
    """entry() exits without the interpreter's teardown, so it must flush everything first:
    a `list` larger than a pipe's buffer, and a debug hint on stderr, arrive whole."""
    for index in range(3000):
        add_secret(env, f"R{index:04d}", f"registry-{index:04d}.example.com", f"user{index}", "p")
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = run_helper(env, "list", stdin=None)
    assert result.returncode == 0
    assert len(result.stdout) > 65536
    assert len(json.loads(result.stdout)) == 3000
    found = run_helper(env, "get", stdin=b"nowhere.example.com")
    assert (found.returncode, found.stdout) == (1, b"credentials not found in native keychain\n")
    assert found.stderr.endswith(b"\n") and b"nowhere.example.com" in found.stderr


def test_a_closed_stdout_is_exit_1_without_a_traceback(env: dict[str, str]) -> None:
    """docker gone before the answer: the flush in entry() fails, and says so by exit code."""
    for index in range(3000):
        add_secret(env, f"R{index:04d}", f"registry-{index:04d}.example.com", "u", "p")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [str(HELPER), "list"],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("verb", "redirect", "code", "stdout"),
    [
        ("list", "<&-", 0, b"{}\n"),
        ("get", "<&-", 1, b"no credentials server URL\n"),
        ("list", ">&-", 1, b""),
    ],
)
def test_started_with_stdin_or_stdout_closed(
    env: dict[str, str], verb: str, redirect: str, code: int, stdout: bytes
) -> None:
    """No pipe at all where docker would give one: an answer or exit 1, never a traceback."""
    result = subprocess.run(
        ["sh", "-c", f'exec "$0" {verb} {redirect}', str(HELPER)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (code, stdout, b"")


@pytest.mark.parametrize("verb", ["get", "list"])
def test_a_full_stdout_is_exit_1_and_one_line(env: dict[str, str], verb: str) -> None:
    """A write error other than a broken pipe (here ENOSPC, stdout on /dev/full): one line."""
    add_secret(env, "GH", "ghcr.io", "u", "CANARY-password")
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [str(HELPER), verb],
            input=b"ghcr.io",
            stdout=full,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr == (
        b"docker-credential-codespaces: cannot write the answer: No space left on device\n"
    )
