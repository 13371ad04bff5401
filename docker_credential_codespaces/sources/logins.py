"""The logins: what `docker login` stored, in the local store or in the fallback store.

Both keep logins for registries no secret covers, and both are this one source to the chain:
the fallback store when `configure` recorded one (the credsStore the user had before), else
the helper's own file. Nothing here is imported on a `get` that a secret answers.
"""

from __future__ import annotations

from ..errors import HelperError
from ..log import warn
from . import Source


class Logins(Source):
    """A store of logins. `entries` may fail; `list`, which docker needs always, may not."""

    description = "logins"

    def entries(self) -> dict[str, str]:
        """Key to username for every login; raises HelperError when they cannot be read."""
        raise NotImplementedError

    def list(self) -> dict[str, str]:
        """The logins for `list`, which must always answer: a failure is warned about instead.

        The warning names the file or helper to fix, and docker goes on with what is left.
        """
        try:
            return self.entries()
        except HelperError as error:
            warn(str(error))
            return {}


def logins() -> Logins:
    """Where logins live: the recorded fallback store, or the helper's own file."""
    from .. import fallback, store

    return fallback.configured() or store.LocalStore()
