"""The helper's voice on stderr, and the one reader of its on/off settings.

Docker shows the helper's stderr to the user on every command, so nothing is said on success
unless DOCKER_CREDENTIAL_CODESPACES_DEBUG=1 asks for it; warnings are said always.

On/off settings have one reader, so every boolean variable means the same thing: `1`, `true`,
`yes` and `on` are on; unset, empty, `0`, `false`, `no` and `off` are off; case does not
matter. Anything else is a mistake the user should hear about, once a run, and is taken as
off, the default of every setting, rather than guessed at. The reader lives here, beside the
voice that says such a mistake, so neither needs the other from another module.
"""

from __future__ import annotations

import os
import sys

from .constants import BOOLEAN_SETTINGS, ENV_DEBUG, FLAG_OFF, FLAG_ON, PROGRAM

_warned: set[str] = set()


def warn(message: str) -> None:
    """Print one line on stderr, prefixed with the program name so the user knows who spoke."""
    try:
        sys.stderr.write(f"{PROGRAM}: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def debug(message: str) -> None:
    """Print a hint only when debugging is on. Callers name variables, never values."""
    if flag(ENV_DEBUG):
        warn(message)


def _value(name: str) -> str:
    return os.environ.get(name, "").strip().lower()


def misspelt(name: str) -> str | None:
    """The line that says a boolean setting has a value that is neither on nor off, or None."""
    value = _value(name)
    if value in FLAG_ON or value in FLAG_OFF:
        return None
    return f"{name} is not 1/true/yes/on or 0/false/no/off; taken as off"


def flag(name: str) -> bool:
    """Whether the boolean setting `name` is on; read each time, so tests can flip it.

    A value that is neither is said on stderr the first time this run reads it.
    """
    if _value(name) in FLAG_ON:
        return True
    problem = misspelt(name)
    if problem is not None and name not in _warned:
        _warned.add(name)
        warn(problem)
    return False


def problems() -> list[str]:
    """For doctor: every boolean setting of the helper whose value is neither on nor off."""
    return [line for line in map(misspelt, BOOLEAN_SETTINGS) if line is not None]
