"""The helper's two voices on stderr: debug hints on request, and warnings always.

Docker shows the helper's stderr to the user on every command, so nothing is said on success
unless DOCKER_CREDENTIAL_CODESPACES_DEBUG=1 asks for it.
"""

import sys

from .constants import ENV_DEBUG, PROGRAM


def debug_enabled() -> bool:
    """Whether the user asked for hints; read each time so tests can flip it in-process."""
    from .settings import flag  # only a run that has a hint to give reads the setting

    return flag(ENV_DEBUG)


def debug(message: str) -> None:
    """Print a hint only when debugging is on. Callers name variables, never values."""
    if debug_enabled():
        warn(message)


def warn(message: str) -> None:
    """Print one line on stderr, prefixed with the program name so the user knows who spoke."""
    try:
        sys.stderr.write(f"{PROGRAM}: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
