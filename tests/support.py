"""What every test module uses: the installed helper's path, a clean environment, a runner."""

from __future__ import annotations

import os
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
    return subprocess.run(
        [str(HELPER), *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def add_secret(env: dict[str, str], prefix: str, server: str, user: str, password: str) -> None:
    """Put one secret triple into a test environment."""
    env[f"{prefix}_CONTAINER_REGISTRY_SERVER"] = server
    env[f"{prefix}_CONTAINER_REGISTRY_USER"] = user
    env[f"{prefix}_CONTAINER_REGISTRY_PASSWORD"] = password
