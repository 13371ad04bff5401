"""What every test module uses: the installed helper's path, a clean environment, a runner."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
HELPER = VENV_BIN / "docker-credential-codespaces"
# No helper invocation in a test may take longer than this; a hang fails instead of blocking CI.
RUN_TIMEOUT = 60

_INHERITED_PREFIXES = ("AWS_", "DOCKER_", "XDG_", "REGISTRY_AUTH_FILE", "CODESPACE", "GITHUB_")


def clean_environ() -> dict[str, str]:
    """The machine's environment without anything that could steer the helper or a client."""
    return {
        name: value
        for name, value in os.environ.items()
        if "_CONTAINER_REGISTRY_" not in name and not name.startswith(_INHERITED_PREFIXES)
    }


def run_helper(
    env: dict[str, str], *args: str, stdin: bytes | None = b"", timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed executable the way docker does: argv, bytes on stdin, both outputs."""
    return run_command([str(HELPER), *args], env, stdin, timeout)


def run_command(
    argv: list[str], env: dict[str, str], stdin: bytes | None, timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """Run a command with bytes on stdin (None: no stdin at all), capturing both outputs."""
    return subprocess.run(
        argv,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def interpreter_command(wrapper: Path = HELPER) -> list[str]:
    """The interpreter and options that an executable script starts, to run it with more.

    The launcher's wrapper runs Python with -I, which ignores PYTHONPROFILEIMPORTTIME and the
    like; a test that needs them passes `-X importtime` through this command instead. Both of
    the launcher's forms are read: a `#!` line, and /bin/sh's exec line for an interpreter path
    that a `#!` line cannot hold.
    """
    lines = wrapper.read_text().splitlines()
    if lines[0] == "#!/bin/sh":
        words = shlex.split(lines[1])  # the shell reads: exec '<python>' -IS "$0" "$@"
        assert words[0] == "exec" and words[-2:] == ["$0", "$@"], lines[1]
        return words[1:-2]
    assert lines[0].startswith("#!"), lines[0]
    return lines[0][2:].split()


def imported_modules(
    env: dict[str, str], *args: str, wrapper: Path = HELPER, stdin: bytes | None = b""
) -> set[str]:
    """The modules an executable imports for one invocation, as `python -X importtime` lists."""
    argv = [*interpreter_command(wrapper), "-X", "importtime", str(wrapper), *args]
    result = run_command(argv, env, stdin)
    modules = set()
    for line in result.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert modules, result.stderr
    return modules


def add_secret(env: dict[str, str], prefix: str, server: str, user: str, password: str) -> None:
    """Put one secret triple into a test environment."""
    env[f"{prefix}_CONTAINER_REGISTRY_SERVER"] = server
    env[f"{prefix}_CONTAINER_REGISTRY_USER"] = user
    env[f"{prefix}_CONTAINER_REGISTRY_PASSWORD"] = password


def isolated_environ(root: Path) -> dict[str, str]:
    """A private environment under `root`: its own HOME, DOCKER_CONFIG, XDG directories,
    secrets file, store, cache and AWS config, and nothing inherited that steers the helper."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    runtime = root / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    values = clean_environ()
    values.update(
        HOME=str(home),
        DOCKER_CONFIG=str(home / ".docker"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_RUNTIME_DIR=str(runtime),
        DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE=str(root / "no-secrets-file"),
        AWS_CONFIG_FILE=str(root / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(root / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return values


def spawn(env: dict[str, str], verb: str, stdin: bytes) -> subprocess.Popen[bytes]:
    """Start the helper without waiting, its request already written and stdin closed, for
    tests that run many at once; collect with communicate()."""
    process = subprocess.Popen(
        [str(HELPER), verb],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    process.stdin = None  # written and closed: communicate() must not touch it
    return process


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Terminate, then kill after a bounded wait: a test must never leave a server behind."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def free_port() -> int:
    """A loopback port that was free a moment ago; servers retry if another process takes it."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
