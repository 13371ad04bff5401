"""Errors that carry the exact text the wire protocol prints, so callers never compare strings."""

from .constants import ERR_NOT_FOUND


class HelperError(Exception):
    """A failure whose message is the one line printed on stdout before exiting 1.

    The message must never contain a secret: it is shown to the user by every client.
    """


class CredentialsNotFound(HelperError):
    """No source knows the registry; docker then goes on anonymously."""

    def __init__(self) -> None:
        super().__init__(ERR_NOT_FOUND)
