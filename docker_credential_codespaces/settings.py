"""What the environment tells the helper: its on/off settings, and where its files live.

On/off settings have one reader, so every boolean variable means the same thing: `1`, `true`,
`yes` and `on` are on; unset, empty, `0`, `false`, `no` and `off` are off; case does not
matter. Anything else is a mistake the user should hear about, once a run, and is taken as
off, the default of every setting, rather than guessed at.

Files live in platformdirs' user data and cache directories, or in the ones a setting names;
a directory a setting names is the user's choice and is never repaired (see PrivateDir). On
Linux, where dev containers run, the XDG rules that platformdirs follows are applied here
directly: importing platformdirs costs more than the rest of a `get`, and docker starts the
helper anew for every registry it touches. Other platforms ask platformdirs itself. A test
holds the two to the same answers.
"""

from __future__ import annotations

import os
import sys

from .constants import (
    BOOLEAN_SETTINGS,
    ENV_CACHE_DIR,
    ENV_NO_CACHE,
    ENV_STORE_DIR,
    FLAG_OFF,
    FLAG_ON,
    PROGRAM,
)
from .wire import HelperError

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from .files import PrivateDir

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


def _xdg_dir(variable: str, fallback: str) -> str | None:
    """`$variable/<program>`, or `~/<fallback>/<program>`; None when there is no home."""
    base = os.environ.get(variable, "").strip()
    if not base:
        home = os.path.expanduser("~")
        if home.startswith("~") or not os.path.isabs(home):
            return None
        base = os.path.join(home, fallback)
    return os.path.join(base, PROGRAM)


def user_data_dir() -> str | None:
    """platformdirs.user_data_dir for this program, without importing platformdirs on Linux."""
    if sys.platform.startswith("linux"):
        return _xdg_dir("XDG_DATA_HOME", ".local/share")
    import platformdirs

    return platformdirs.user_data_dir(PROGRAM, appauthor=False)


def user_cache_dir() -> str | None:
    """platformdirs.user_cache_dir for this program, without importing platformdirs on Linux."""
    if sys.platform.startswith("linux"):
        return _xdg_dir("XDG_CACHE_HOME", ".cache")
    import platformdirs

    return platformdirs.user_cache_dir(PROGRAM, appauthor=False)


def store_dir() -> PrivateDir:
    """The local store's directory; an error names the variable that fixes a missing home."""
    from .files import PrivateDir

    named = os.environ.get(ENV_STORE_DIR)
    if named:
        return PrivateDir(named, ENV_STORE_DIR)
    path = user_data_dir()
    if path is None:
        raise HelperError(f"no home directory for the local store; set {ENV_STORE_DIR}")
    return PrivateDir(path)


def cache_dir() -> PrivateDir | None:
    """The ECR token cache's directory, or None when caching is off or there is no home."""
    from .files import PrivateDir

    if flag(ENV_NO_CACHE):
        return None
    named = os.environ.get(ENV_CACHE_DIR)
    if named:
        return PrivateDir(named, ENV_CACHE_DIR)
    path = user_cache_dir()
    return PrivateDir(path) if path is not None else None
