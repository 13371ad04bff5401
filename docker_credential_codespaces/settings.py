"""The helper's on/off settings: one reader, so every boolean variable means the same thing.

`1`, `true`, `yes` and `on` are on; unset, empty, `0`, `false`, `no` and `off` are off; case
does not matter. Anything else is a mistake the user should hear about, once a run, and is
taken as off, the default of every setting, rather than guessed at.
"""

from __future__ import annotations

import os

from .constants import BOOLEAN_SETTINGS, FLAG_OFF, FLAG_ON

_warned: set[str] = set()


def _value(name: str) -> str:
    return os.environ.get(name, "").strip().lower()


def misspelt(name: str) -> str | None:
    """The line that says a boolean setting has a value that is neither on nor off, or None."""
    if _value(name) in FLAG_ON or _value(name) in FLAG_OFF:
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
        from .log import warn

        warn(problem)
    return False


def problems() -> list[str]:
    """For doctor: every boolean setting of the helper whose value is neither on nor off."""
    return [line for line in map(misspelt, BOOLEAN_SETTINGS) if line is not None]
